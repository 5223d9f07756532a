/**
 * At most one log line per key per interval. A caller that is told to log gets the number of events it did not
 * log since the last line (`suppressed`), so the line can say "and N more" while the counter metric has them all.
 * One Map lookup per event: cheap enough for per-frame and per-trade paths.
 */
export class LogThrottle {
  private readonly last = new Map<string, { at: number; suppressed: number }>();

  /** `now` reads the clock (pass the injected clock's `now`); `maxKeys` bounds the memory a hostile key set can take. */
  constructor(
    private readonly now: () => number,
    private readonly intervalMs = 10_000,
    private readonly maxKeys = 1_000,
  ) {}

  /** -1 when this event is not to be logged; otherwise the events suppressed for `key` since its last line. */
  take(key: string): number {
    const now = this.now();
    const s = this.last.get(key);
    if (s === undefined) {
      if (this.last.size >= this.maxKeys) this.last.clear();
      this.last.set(key, { at: now, suppressed: 0 });
      return 0;
    }
    if (now - s.at < this.intervalMs) {
      s.suppressed++;
      return -1;
    }
    const n = s.suppressed;
    s.at = now;
    s.suppressed = 0;
    return n;
  }
}

/**
 * An error's stack (or `name: message`) for a log field, truncated, never throwing whatever was thrown: a
 * logger's own serializer would walk a hostile object's properties.
 */
export function errorText(err: unknown): string {
  try {
    if (err instanceof Error) return (typeof err.stack === 'string' ? err.stack : `${err.name}: ${err.message}`).slice(0, 1_000);
    return typeof err === 'string' ? err.slice(0, 300) : typeof err;
  } catch {
    return 'unprintable error';
  }
}
