/**
 * 10. Services: seed 003's SLA goals for every candlestack service (the Prometheus job of each role: the
 * all-in-one / serve role, collect, process, decide, notify), with exemplars: a point on the latency panels is
 * a request traced while sampled, and opens its trace in Tempo (the Prometheus data source's
 * exemplarTraceIdDestinations), from where Tempo opens its logs in Loki.
 */
import { above, informational, vars, type DashboardSpec } from '../builder.js';
import { callPanels, slaPanels } from '../sla.js';

const scope = { jobs: 'job=~"$job"', exemplars: true };

export const services: DashboardSpec = {
  uid: 'candlestack-services',
  title: 'candlestack / Services',
  description: 'Per service: p95 latency (with exemplars linking to traces), error rate, requests per second and availability: the SLA of seed 003, and the calls between services.',
  tags: ['sla', 'services', 'tracing'],
  variables: [
    { name: 'job', label: 'Service', query: 'label_values(candlestack_http_requests_total, job)', multi: true },
    { ...vars.timeframe(), query: 'label_values(candlestack_candle_close_latency_seconds_count, timeframe)' },
  ],
  rows: [
    { title: 'SLA per service', panels: slaPanels(scope) },
    {
      title: 'Routes',
      panels: [
        {
          title: 'Latency p95 by route',
          description: 'p95 of the HTTP request duration per service and route (the matched route, `unknown` for any other path): which route makes a service slow. Exemplars link to the traces.',
          unit: 's',
          thresholds: above(0.25, 0.5),
          w: 12,
          targets: [{ expr: 'histogram_quantile(0.95, sum by (job, route, le) (rate(candlestack_http_request_duration_seconds_bucket{job=~"$job",route!="/metrics"}[$__rate_interval])))', legend: '{{job}} {{route}}', exemplar: true }],
        },
        {
          title: 'Responses by status',
          description: 'HTTP responses per second by service and status code (4xx: the client\'s error, 5xx: the service\'s).',
          unit: 'reqps',
          thresholds: informational,
          w: 12,
          targets: [{ expr: 'sum by (job, status) (rate(candlestack_http_requests_total{job=~"$job",route!="/metrics"}[$__rate_interval]))', legend: '{{job}} {{status}}' }],
        },
      ],
    },
    { title: 'Calls between services', panels: callPanels(scope) },
    {
      title: 'Inside the services',
      panels: [
        {
          title: 'Store write p99',
          description: 'p99 of one batched candle write per service and store (one `upsert candles` span per batch). Exemplars link a slow write to its trace.',
          unit: 's',
          thresholds: above(0.1, 0.5),
          w: 12,
          targets: [{ expr: 'histogram_quantile(0.99, sum by (job, store, le) (rate(candlestack_store_write_duration_seconds_bucket{job=~"$job"}[$__rate_interval])))', legend: '{{job}} {{store}}', exemplar: true }],
        },
        {
          title: 'Candle close latency p95',
          description: 'Time from the end of a candle period to its closed candle being published, p95 per service and timeframe. Exemplars where the close happened inside a traced Kafka batch (process role).',
          unit: 's',
          thresholds: above(1, 2),
          w: 12,
          targets: [{ expr: 'histogram_quantile(0.95, sum by (job, timeframe, le) (rate(candlestack_candle_close_latency_seconds_bucket{job=~"$job",timeframe=~"$timeframe"}[$__rate_interval])))', legend: '{{job}} {{timeframe}}', exemplar: true }],
        },
      ],
    },
  ],
};
