/** 7. Host and containers: node-exporter CPU, memory, disk, network; cAdvisor CPU and memory per container (seed 004's queries). */
import { above, informational, type DashboardSpec } from '../builder.js';

const I = 'instance=~"$instance"';
const C = 'name=~"$container",name!=""';

export const host: DashboardSpec = {
  uid: 'candlestack-host',
  title: 'candlestack / Host and containers',
  description: 'Resources of the machines (node-exporter) and of each container (cAdvisor).',
  tags: ['infrastructure'],
  variables: [
    { name: 'instance', label: 'Host', query: 'label_values(node_uname_info, instance)', multi: true },
    { name: 'container', label: 'Container', query: 'label_values(container_last_seen{name!=""}, name)', multi: true },
  ],
  rows: [
    {
      title: 'Host (node-exporter)',
      panels: [
        {
          title: 'CPU busy',
          description: 'Share of CPU time not idle, all cores: orange from 70%, red from 90%.',
          unit: 'percentunit',
          thresholds: above(0.7, 0.9),
          min: 0,
          max: 1,
          targets: [{ expr: `1 - avg by (instance) (rate(node_cpu_seconds_total{${I},mode="idle"}[$__rate_interval]))`, legend: '{{instance}}' }],
        },
        {
          title: 'Load per core',
          description: '1 min load average divided by the number of cores: orange from 1, red from 2.',
          unit: 'short',
          thresholds: above(1, 2),
          targets: [{ expr: `node_load1{${I}} / on (instance) count by (instance) (node_cpu_seconds_total{${I},mode="idle"})`, legend: '{{instance}}' }],
        },
        {
          title: 'Memory used',
          description: '1 - available / total: orange from 80%, red from 90%.',
          unit: 'percentunit',
          thresholds: above(0.8, 0.9),
          min: 0,
          max: 1,
          targets: [{ expr: `1 - node_memory_MemAvailable_bytes{${I}} / node_memory_MemTotal_bytes{${I}}`, legend: '{{instance}}' }],
        },
        {
          title: 'Disk used',
          description: 'Per filesystem: orange from 80%, red from 90% (SQLite and the logs live here).',
          unit: 'percentunit',
          thresholds: above(0.8, 0.9),
          min: 0,
          max: 1,
          targets: [
            {
              expr: `1 - node_filesystem_avail_bytes{${I},fstype!~"tmpfs|ramfs|overlay|squashfs"} / node_filesystem_size_bytes{${I},fstype!~"tmpfs|ramfs|overlay|squashfs"}`,
              legend: '{{instance}} {{mountpoint}}',
            },
          ],
        },
        {
          title: 'Network',
          description: 'Bytes received and sent per second (loopback excluded).',
          unit: 'Bps',
          thresholds: informational,
          targets: [
            { expr: `sum by (instance) (rate(node_network_receive_bytes_total{${I},device!="lo"}[$__rate_interval]))`, legend: 'in {{instance}}' },
            { expr: `sum by (instance) (rate(node_network_transmit_bytes_total{${I},device!="lo"}[$__rate_interval]))`, legend: 'out {{instance}}' },
          ],
        },
        {
          title: 'Disk I/O time',
          description: 'Share of time each device was busy: orange from 70%, red from 90%.',
          unit: 'percentunit',
          thresholds: above(0.7, 0.9),
          targets: [{ expr: `rate(node_disk_io_time_seconds_total{${I}}[$__rate_interval])`, legend: '{{instance}} {{device}}' }],
        },
      ],
    },
    {
      title: 'Containers (cAdvisor)',
      panels: [
        {
          title: 'Container CPU',
          description: 'CPU cores used per container.',
          unit: 'short',
          thresholds: informational,
          targets: [{ expr: `sum by (name) (rate(container_cpu_usage_seconds_total{${C}}[$__rate_interval]))`, legend: '{{name}}' }],
        },
        {
          title: 'Container memory',
          description: 'Working set per container (what the OOM killer looks at).',
          unit: 'bytes',
          thresholds: informational,
          targets: [{ expr: `sum by (name) (container_memory_working_set_bytes{${C}})`, legend: '{{name}}' }],
        },
        {
          title: 'Container memory vs limit',
          description: 'Working set / memory limit, for containers with a limit: orange from 80%, red from 90%.',
          unit: 'percentunit',
          thresholds: above(0.8, 0.9),
          targets: [{ expr: `sum by (name) (container_memory_working_set_bytes{${C}}) / sum by (name) (container_spec_memory_limit_bytes{${C}} > 0)`, legend: '{{name}}' }],
        },
      ],
    },
  ],
};
