/** Shared test scaffolding: a metrics registry, a silent logger, the skip rule for services, and waiting. */
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

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export interface UntilOptions {
  /** Time between two probes (default 100 ms). */
  pollMs?: number;
  /**
   * A probe that throws has not succeeded yet (an assertion that holds only eventually, a server not up yet);
   * at the deadline the last error is reported. Without it a throw fails at once.
   */
  retryOnThrow?: boolean;
}

/**
 * Polls `probe` until it returns a value other than undefined or false, and returns that value; fails after
 * `timeoutMs` naming `what`.
 */
export async function until<T>(
  what: string,
  probe: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs = 10_000,
  { pollMs = 100, retryOnThrow = false }: UntilOptions = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let lastError: unknown;
    try {
      const v = await probe();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      if (!retryOnThrow) throw err;
      lastError = err;
    }
    if (Date.now() > deadline) {
      if (lastError === undefined) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}: ${lastError instanceof Error ? lastError.message : String(lastError)}`, { cause: lastError });
    }
    await sleep(pollMs);
  }
}
