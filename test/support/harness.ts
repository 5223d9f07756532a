/** Shared test scaffolding: a metrics registry, a silent logger, and the skip rule for services. */
import { createMetrics, createRegistry } from '../../src/telemetry/metrics.js';
import { silentLogger } from '../../src/telemetry/logger.js';

export function testMetrics() {
  return createMetrics(createRegistry({ defaults: false }));
}

export const log = silentLogger();

/** Under CI a test that would skip because a service is missing must fail instead. */
export function skipUnlessAvailable(available: boolean, reason: string): string | false {
  if (available) return false;
  if (process.env.CI === 'true') throw new Error(`required under CI: ${reason}`);
  return reason;
}
