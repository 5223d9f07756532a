/** Named error classes with stable codes: the API maps `code` to its JSON error body. */
export class CandlestackError extends Error {
  override name = 'CandlestackError';
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/** A config field, CLI flag or environment variable has an invalid value. */
export class ConfigError extends CandlestackError {
  override name = 'ConfigError';
  readonly field: string;
  constructor(field: string, expected: string, got: unknown, options?: { cause?: unknown }) {
    super('invalid_config', `${field}: expected ${expected}, got ${describe(got)}`, options);
    this.field = field;
  }
}

/** An API request parameter is invalid (HTTP 400). */
export class BadParameterError extends CandlestackError {
  override name = 'BadParameterError';
  readonly parameter: string;
  constructor(parameter: string, expected: string, got: unknown) {
    super('bad_parameter', `${parameter}: expected ${expected}, got ${describe(got)}`);
    this.parameter = parameter;
  }
}

/** An exchange REST call failed after retries, or was refused. */
export class ExchangeRequestError extends CandlestackError {
  override name = 'ExchangeRequestError';
  readonly status: number | undefined;
  constructor(message: string, status?: number, options?: { cause?: unknown }) {
    super('exchange_request_failed', message, options);
    this.status = status;
  }
}

export function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (typeof value === 'string') return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value);
  try {
    const text = JSON.stringify(value);
    return text.length > 60 ? `${text.slice(0, 57)}...` : text;
  } catch {
    // JSON.stringify of a deeply nested value throws, and so would String() of a nested array.
    return Array.isArray(value) ? 'an array' : typeof value === 'object' ? 'an object' : typeof value;
  }
}
