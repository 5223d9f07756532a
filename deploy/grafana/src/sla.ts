/**
 * The SLA panels of seed 003's four goals, per service (the Prometheus `job` of each role): p95 latency, error
 * rate, requests per second and availability, plus the calls between services. One definition for the
 * Services dashboard (every role, `$job`, exemplars on the latency) and the Assistant dashboard (the services
 * behind the bot). The numbers are those of the alerts in deploy/prometheus/rules (ApiLatencyHigh,
 * ApiErrorRateHigh, ServiceAvailabilityLow, ServiceTrafficDropped). /metrics (Prometheus' own scrape) is left
 * out of the request series, as in the recording rules.
 */
import { above, below, informational, type PanelSpec } from './builder.js';

/** The SLA goals: 95% of requests within 500 ms, at most 1% answered 5xx, scraped (up) 99% of the time. */
export const SLA = { p95Seconds: 0.5, errorRatio: 0.01, availability: 0.99 } as const;

export interface SlaScope {
  /** PromQL label matchers of the services shown, e.g. `job=~"$job"`. */
  jobs: string;
  /** Query exemplars on the latency panel (a slow point links to its trace). */
  exemplars?: boolean;
}

/** p95 latency, error rate, requests per second and availability, one series per service. */
export function slaPanels({ jobs, exemplars = false }: SlaScope): PanelSpec[] {
  const requests = `candlestack_http_requests_total{${jobs},route!="/metrics"}`;
  return [
    {
      title: 'Latency p95 by service',
      description: `p95 of the HTTP request duration per service (SLA: ${SLA.p95Seconds * 1000} ms; ApiLatencyHigh after 10 min above).${exemplars ? ' The points are exemplars: requests traced while sampled; one opens its trace in Tempo.' : ''}`,
      unit: 's',
      thresholds: above(SLA.p95Seconds / 2, SLA.p95Seconds),
      w: 12,
      targets: [{ expr: `histogram_quantile(0.95, sum by (job, le) (rate(candlestack_http_request_duration_seconds_bucket{${jobs},route!="/metrics"}[$__rate_interval])))`, legend: '{{job}}', exemplar: exemplars }],
    },
    {
      title: 'Error rate by service',
      description: `Share of HTTP requests answered with a 5xx, per service (SLA: at most ${SLA.errorRatio * 100}%; ApiErrorRateHigh after 5 min above). 4xx are the client's errors and do not count.`,
      unit: 'percentunit',
      thresholds: above(SLA.errorRatio / 2, SLA.errorRatio),
      w: 12,
      targets: [{ expr: `(sum by (job) (rate(candlestack_http_requests_total{${jobs},route!="/metrics",status=~"5.."}[$__rate_interval])) or sum by (job) (rate(${requests}[$__rate_interval])) * 0) / sum by (job) (rate(${requests}[$__rate_interval]))`, legend: '{{job}}' }],
    },
    {
      title: 'Requests per second by service',
      description: 'HTTP requests answered per second by each service (every role emits candlestack_http_requests_total). A fall of more than 90% from an hour before: ServiceTrafficDropped.',
      unit: 'reqps',
      thresholds: informational,
      w: 12,
      targets: [{ expr: `sum by (job) (rate(${requests}[$__rate_interval]))`, legend: '{{job}}' }],
    },
    {
      title: 'Availability by service',
      description: `Share of successful scrapes of each service over the dashboard range (up). SLA: ${SLA.availability * 100}% (ServiceAvailabilityLow over 1 h).`,
      type: 'stat',
      unit: 'percentunit',
      thresholds: below(SLA.availability, 0.999),
      w: 12,
      targets: [{ expr: `avg by (job) (avg_over_time(up{${jobs}}[$__range]))`, legend: '{{job}}' }],
    },
  ];
}

/** Outgoing calls per calling service and target, and their p95 (exemplars: the CLIENT span's trace). */
export function callPanels({ jobs, exemplars = false }: SlaScope): PanelSpec[] {
  return [
    {
      title: 'Calls between services',
      description: 'Outgoing HTTP calls per second by calling service and target (decide, serve, llm, telegram) and outcome: the status code, or timeout, error, circuit_open.',
      unit: 'reqps',
      thresholds: informational,
      w: 12,
      targets: [{ expr: `sum by (job, target, outcome) (rate(candlestack_http_client_requests_total{${jobs}}[$__rate_interval]))`, legend: '{{job}} -> {{target}} {{outcome}}' }],
    },
    {
      title: 'Call latency p95 by target',
      description: `p95 of outgoing HTTP calls by calling service and target service.${exemplars ? ' Exemplars link a call to its trace.' : ''}`,
      unit: 's',
      thresholds: above(1, 5),
      w: 12,
      targets: [{ expr: `histogram_quantile(0.95, sum by (job, target, le) (rate(candlestack_http_client_request_duration_seconds_bucket{${jobs}}[$__rate_interval])))`, legend: '{{job}} -> {{target}}', exemplar: exemplars }],
    },
  ];
}
