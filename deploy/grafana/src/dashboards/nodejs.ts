/** 8. Node.js runtime of every candlestack process: event loop, heap, GC, CPU, handles (prom-client defaults). */
import { above, informational, type DashboardSpec } from '../builder.js';

const S = 'job=~"$job",instance=~"$instance"';

export const nodejs: DashboardSpec = {
  uid: 'candlestack-nodejs',
  title: 'candlestack / Node.js runtime',
  description: 'Is a candlestack process healthy as a Node.js program: event-loop lag, memory, garbage collection, CPU.',
  tags: ['runtime'],
  variables: [
    { name: 'job', label: 'Role', query: 'label_values(nodejs_version_info, job)', multi: true },
    { name: 'instance', label: 'Instance', query: 'label_values(nodejs_version_info{job=~"$job"}, instance)', multi: true },
  ],
  rows: [
    {
      title: 'Event loop and CPU',
      panels: [
        {
          title: 'Event-loop lag',
          description: 'p50 and p99 of the event-loop delay: orange from 50 ms, red from 200 ms (candle closes and pongs get late).',
          unit: 's',
          thresholds: above(0.05, 0.2),
          targets: [
            { expr: `nodejs_eventloop_lag_p50_seconds{${S}}`, legend: 'p50 {{instance}}' },
            { expr: `nodejs_eventloop_lag_p99_seconds{${S}}`, legend: 'p99 {{instance}}' },
          ],
        },
        {
          title: 'CPU',
          description: 'CPU time per second (1 = one core, the most one Node.js thread can use): orange from 70%, red from 90%.',
          unit: 'percentunit',
          thresholds: above(0.7, 0.9),
          targets: [{ expr: `rate(process_cpu_seconds_total{${S}}[$__rate_interval])`, legend: '{{instance}}' }],
        },
        {
          title: 'Version',
          description: 'candlestack version and role of each process.',
          type: 'stat',
          unit: 'short',
          thresholds: informational,
          options: { textMode: 'name', colorMode: 'none', graphMode: 'none' },
          targets: [{ expr: `candlestack_build_info{${S}}`, legend: '{{version}} {{role}}' }],
        },
      ],
    },
    {
      title: 'Memory and GC',
      panels: [
        {
          title: 'Heap',
          description: 'V8 heap used and total.',
          unit: 'bytes',
          thresholds: informational,
          targets: [
            { expr: `nodejs_heap_size_used_bytes{${S}}`, legend: 'used {{instance}}' },
            { expr: `nodejs_heap_size_total_bytes{${S}}`, legend: 'total {{instance}}' },
          ],
        },
        {
          title: 'Resident and external memory',
          description: 'RSS of the process and memory held outside the V8 heap (buffers).',
          unit: 'bytes',
          thresholds: informational,
          targets: [
            { expr: `process_resident_memory_bytes{${S}}`, legend: 'rss {{instance}}' },
            { expr: `nodejs_external_memory_bytes{${S}}`, legend: 'external {{instance}}' },
          ],
        },
        {
          title: 'Time in GC',
          description: 'Share of wall time spent in garbage collection, by kind: orange from 5%, red from 10%.',
          unit: 'percentunit',
          thresholds: above(0.05, 0.1),
          targets: [{ expr: `sum by (instance, kind) (rate(nodejs_gc_duration_seconds_sum{${S}}[$__rate_interval]))`, legend: '{{instance}} {{kind}}' }],
        },
        {
          title: 'GC runs',
          description: 'Garbage collections per second, by kind.',
          unit: 'ops',
          thresholds: informational,
          targets: [{ expr: `sum by (instance, kind) (rate(nodejs_gc_duration_seconds_count{${S}}[$__rate_interval]))`, legend: '{{instance}} {{kind}}' }],
        },
        {
          title: 'File descriptors',
          description: 'Open / maximum file descriptors: orange from 70%, red from 90%.',
          unit: 'percentunit',
          thresholds: above(0.7, 0.9),
          targets: [{ expr: `process_open_fds{${S}} / process_max_fds{${S}}`, legend: '{{instance}}' }],
        },
        {
          title: 'Active handles',
          description: 'Libuv handles by type (sockets, timers): a steady climb is a leak.',
          unit: 'short',
          thresholds: informational,
          targets: [{ expr: `sum by (instance, type) (nodejs_active_handles{${S}})`, legend: '{{instance}} {{type}}' }],
        },
        {
          title: 'HTTP connections',
          description: 'Open TCP connections to the HTTP server (upgraded /ws sockets included); capped per address and in total (src/api/socket-guard.ts).',
          unit: 'short',
          thresholds: informational,
          targets: [{ expr: `sum by (instance) (candlestack_http_connections{${S}})`, legend: '{{instance}}' }],
        },
        {
          title: 'HTTP connections refused and closed',
          description: 'Connections refused over a cap (total, per_address) and closed for the client (idle, timeout, malformed, headers_too_large): a flood or slow clients.',
          unit: 'ops',
          thresholds: informational,
          targets: [
            { expr: `sum by (instance, reason) (rate(candlestack_http_connections_refused_total{${S}}[$__rate_interval]))`, legend: '{{instance}} refused {{reason}}' },
            { expr: `sum by (instance, reason) (rate(candlestack_http_connections_closed_total{${S}}[$__rate_interval]))`, legend: '{{instance}} closed {{reason}}' },
          ],
        },
      ],
    },
  ],
};
