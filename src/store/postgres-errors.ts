/** Classifying and describing node-postgres errors. */

/** Errors after which the connection is gone (and the pool has dropped it), not errors in the SQL. */
export function isConnectionError(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown } | null;
  const code = typeof e?.code === 'string' ? e.code : '';
  if (code.startsWith('08') || code === '57P01' || code === '57P02' || code === '57P03') return true;
  if (['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT'].includes(code)) return true;
  return typeof e?.message === 'string' && /Connection terminated|connection is closed|Client has encountered a connection error/i.test(e.message);
}

/** Worth one immediate retry: a lost connection, or a deadlock / serialization failure (the transaction was rolled back). */
export function isTransient(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === '40P01' || code === '40001' || isConnectionError(err);
}

export function describeError(err: unknown): string {
  const e = err as { code?: unknown; message?: unknown; errors?: unknown } | null;
  // ECONNREFUSED to a host with several addresses is an AggregateError with an empty message.
  if (Array.isArray(e?.errors) && e.errors.length > 0) return describeError(e.errors[0]);
  const message = typeof e?.message === 'string' && e.message !== '' ? e.message : String(err);
  return typeof e?.code === 'string' && !message.includes(e.code) ? `${message} (${e.code})` : message;
}
