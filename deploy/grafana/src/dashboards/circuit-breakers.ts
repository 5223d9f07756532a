/** 4. Circuit breakers: state, transitions, failures and time spent open. */
import { above, informational, type DashboardSpec, type Thresholds } from '../builder.js';

const C = 'component=~"$component"';
/** 0 closed (green), 1 open (red), 2 half-open (orange). */
const breakerState: Thresholds = { base: 'green', steps: [[1, 'red'], [2, 'orange']] };

export const circuitBreakers: DashboardSpec = {
  uid: 'candlestack-circuit-breakers',
  title: 'candlestack / Circuit breakers',
  description: 'The breakers in front of candlestack dependencies: which are open, how often they trip, how long they stay open.',
  tags: ['resilience'],
  variables: [{ name: 'component', label: 'Component', query: 'label_values(candlestack_circuit_breaker_state, component)', multi: true }],
  rows: [
    {
      title: 'State',
      panels: [
        {
          title: 'Breaker state',
          description: 'closed: calls go through; open: calls are refused (CircuitBreakerOpen after 1 min); half-open: a trial call decides.',
          type: 'state-timeline',
          unit: 'short',
          thresholds: breakerState,
          w: 16,
          mappings: [
            { value: 0, text: 'closed', color: 'green' },
            { value: 1, text: 'open', color: 'red' },
            { value: 2, text: 'half-open', color: 'orange' },
          ],
          targets: [{ expr: `candlestack_circuit_breaker_state{${C}}`, legend: '{{component}}' }],
        },
        {
          title: 'Open now',
          description: 'Breakers currently open.',
          type: 'stat',
          unit: 'short',
          thresholds: { base: 'green', steps: [[1, 'red']] },
          targets: [{ expr: `count(candlestack_circuit_breaker_state{${C}} == 1) or vector(0)`, legend: 'open' }],
        },
      ],
    },
    {
      title: 'Activity',
      panels: [
        {
          title: 'Transitions',
          description: 'State changes (from -> to).',
          unit: 'short',
          thresholds: informational,
          bars: true,
          targets: [{ expr: `sum by (component, from, to) (increase(candlestack_circuit_breaker_transitions_total{${C}}[$__rate_interval]))`, legend: '{{component}} {{from}} -> {{to}}' }],
        },
        {
          title: 'Failures',
          description: 'Failed calls counted by each breaker.',
          unit: 'cps',
          thresholds: informational,
          targets: [{ expr: `sum by (component) (rate(candlestack_circuit_breaker_failures_total{${C}}[$__rate_interval]))`, legend: '{{component}}' }],
        },
        {
          title: 'Time open',
          description: 'Share of the selected time range each breaker spent open: orange from 1%, red from 10%.',
          type: 'bargauge',
          unit: 'percentunit',
          thresholds: above(0.01, 0.1),
          min: 0,
          max: 1,
          targets: [{ expr: `avg_over_time((candlestack_circuit_breaker_state{${C}} == bool 1)[$__range:])`, legend: '{{component}}' }],
        },
      ],
    },
  ],
};
