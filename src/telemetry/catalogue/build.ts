/** Build slice: the version and role of the process (set once by each composition root, src/app/). */
import { Gauge, type Registry } from 'prom-client';

export function buildMetrics(registry: Registry) {
  return {
    buildInfo: new Gauge({
      name: 'candlestack_build_info',
      help: 'Always 1; labels carry the version and role.',
      labelNames: ['version', 'role'] as const,
      registers: [registry],
    }),
  };
}

export type BuildMetrics = ReturnType<typeof buildMetrics>;
