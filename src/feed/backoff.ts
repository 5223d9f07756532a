/** Capped exponential backoff with "equal jitter": half the delay fixed, half random. */
export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
  factor?: number;
}

export function backoffDelay(attempt: number, o: BackoffOptions, random: () => number = Math.random): number {
  const capped = Math.min(o.maxMs, o.initialMs * Math.pow(o.factor ?? 2, Math.max(0, attempt)));
  return capped / 2 + random() * (capped / 2);
}
