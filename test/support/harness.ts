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

/** Polls `probe` every 100 ms until it returns a value (not undefined/false); fails after `timeoutMs`. */
export async function until<T>(what: string, probe: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
