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
      title: 'Logs to Loki',
      panels: [
        {
          title: 'Log lines sent to Loki',
          description: 'Log lines Loki accepted per second, per service. Only roles with log.loki.url set have it; with logs going to the collector over OTLP this stays empty.',
          unit: 'cps',
          thresholds: informational,
          w: 8,
          targets: [{ expr: 'sum by (job) (rate(candlestack_loki_lines_sent_total{job=~"$job"}[$__rate_interval]))', legend: '{{job}}' }],
        },
        {
          title: 'Loki pushes by outcome',
          description: 'Batches of log lines pushed to Loki\'s push API per second, per service: sent, or failed (no answer or an HTTP error; a 5xx or 429 is sent again with the next batch, so a failure alone loses nothing).',
          unit: 'reqps',
          thresholds: informational,
          w: 8,
          targets: [{ expr: 'sum by (job, outcome) (rate(candlestack_loki_pushes_total{job=~"$job"}[$__rate_interval]))', legend: '{{job}} {{outcome}}' }],
        },
        {
          title: 'Log lines dropped before Loki',
          description: 'Log lines given up on per second, per service and reason: refused (a 4xx), queue_full (Loki failed long enough to fill the 20,000-line queue), shutdown (unsent at a stop). LokiLogsDropped fires on any but shutdown. The log files and stdout still have them.',
          unit: 'cps',
          thresholds: above(0.001, 1),
          w: 8,
          targets: [{ expr: 'sum by (job, reason) (rate(candlestack_loki_lines_dropped_total{job=~"$job"}[$__rate_interval]))', legend: '{{job}} {{reason}}' }],
        },
      ],
    },
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
