/**
 * Value types of config fields, shared by every section. Each parses one raw value (from the file: any YAML or
 * JSON value; from the environment or a flag: the string) or throws ConfigError(field, expected, raw): one line
 * naming the field, the expected form and what was given.
 */
import { ConfigError } from '../core/errors.js';

export type Obj = Record<string, unknown>;

export const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A value type. `parent` is the value that contains the field (an exchange, for its symbols). */
export interface Parse<T, P = unknown> {
  (v: unknown, field: string, parent?: P): T;
  /** The value as help writes it (`2s`); without it lists are joined with commas, anything else String(). */
  show?: (v: T) => string;
}

/** `candles` + `grace` -> `candles.grace`; at the top level just the key. */
export const child = (field: string, key: string): string => (field ? `${field}.${key}` : key);

/** A mapping whose keys are all in `keys` (in that order in the error). */
export function mapping(v: unknown, field: string, keys: readonly string[], expected = `a mapping with keys ${keys.join(', ')}`): Obj {
  if (!isObj(v)) throw new ConfigError(field, expected, v);
  for (const k of Object.keys(v)) {
    if (!keys.includes(k)) throw new ConfigError(child(field, k), `no such field (known: ${keys.join(', ')})`, v[k]);
  }
  return v;
}

export const bool: Parse<boolean> = (v, field) => {
  if (typeof v !== 'boolean') throw new ConfigError(field, 'true or false', v);
  return v;
};

/** A number (or numeric text) from min to max. */
export function num(min: number, max: number): Parse<number> {
  return (v, field) => {
    const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : Number.NaN;
    if (!Number.isFinite(n) || n < min || n > max) throw new ConfigError(field, `a number from ${min} to ${max}`, v);
    return n;
  };
}

export function int(min: number, max: number): Parse<number> {
  const n = num(min, max);
  return (v, field) => {
    const x = n(v, field);
    if (!Number.isInteger(x)) throw new ConfigError(field, `an integer from ${min} to ${max}`, v);
    return x;
  };
}

export function oneOf<T extends string>(choices: readonly T[]): Parse<T> {
  return (v, field) => {
    if (typeof v !== 'string' || !(choices as readonly string[]).includes(v)) throw new ConfigError(field, `one of ${choices.join(', ')}`, v);
    return v as T;
  };
}

/** `null` (YAML `~`) for "not set", otherwise `parse`; the expected form stays `parse`'s. */
export function nullable<T, P>(parse: Parse<T, P>): Parse<T | null, P> {
  return (v, field, parent) => (v === null ? null : parse(v, field, parent));
}

const UNITS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Durations in config: a number of milliseconds, or text like "500ms", "2s", "5m", "1h", "30d". */
export function parseDuration(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isFinite(v) && v >= 0 ? v : undefined;
  if (typeof v !== 'string') return undefined;
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(v.trim());
  if (!m) return undefined;
  return Math.round(Number(m[1]) * UNITS[m[2] ?? 'ms']!);
}

/** Milliseconds in the largest unit that divides them: 2000 -> "2s", 250 -> "250ms". */
export function formatDuration(ms: number): string {
  for (const unit of ['d', 'h', 'm', 's'] as const) if (ms >= UNITS[unit]! && ms % UNITS[unit]! === 0) return `${ms / UNITS[unit]!}${unit}`;
  return `${ms}ms`;
}

/** A duration from min to max milliseconds, as milliseconds. */
export function duration(min: number, max: number): Parse<number> {
  const parse: Parse<number> = (v, field) => {
    const ms = parseDuration(v);
    if (ms === undefined || ms < min || ms > max) {
      throw new ConfigError(field, `a duration like 500ms, 2s, 5m, 1h, 30d (or milliseconds) between ${min}ms and ${max}ms`, v);
    }
    return ms;
  };
  parse.show = formatDuration;
  return parse;
}

/** `a, b,c` -> ['a', 'b', 'c'] (empty items dropped). */
export const splitList = (raw: string): string[] => raw.split(',').map((s) => s.trim()).filter(Boolean);

/** A list of strings, or one comma-separated string (as the environment and flags give it). */
export function stringList(v: unknown, field: string): string[] {
  if (typeof v === 'string') return splitList(v);
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) throw new ConfigError(field, 'a list of strings', v);
  return v as string[];
}

export const port: Parse<number> = (v, field) => {
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : Number.NaN;
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new ConfigError(field, 'a port number from 0 to 65535', v);
  return n;
};

export const host: Parse<string> = (v, field) => {
  if (typeof v !== 'string' || !/^[A-Za-z0-9.:\-[\]]+$/.test(v)) throw new ConfigError(field, 'a host name or IP address such as 127.0.0.1 or 0.0.0.0', v);
  return v;
};

/** Host names a server answers besides loopback and IP literals: `serve`, `.example.com` (it and its subdomains), `*` (any). */
export const hostNames: Parse<string[]> = (v, field) => {
  const names = stringList(v, field);
  for (const n of names) if (n !== '*' && !/^\.?[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*\.?$/.test(n)) throw new ConfigError(field, 'host names such as serve, dash.example.com or .example.com (it and its subdomains), or * for any, comma-separated (no ports)', n);
  return [...new Set(names.map((n) => n.toLowerCase()))];
};

/** Origins a browser page may connect from: `https://dash.example.com`, `http://localhost:3000`, `*` (any). */
export const origins: Parse<string[]> = (v, field) => {
  const list = stringList(v, field);
  for (const o of list) {
    if (o === '*') continue;
    let u: URL | null = null;
    try {
      u = new URL(o);
    } catch {
      u = null;
    }
    if (!u || (u.protocol !== 'http:' && u.protocol !== 'https:') || u.origin !== o.replace(/\/$/, '').toLowerCase()) throw new ConfigError(field, 'origins such as https://dash.example.com or http://localhost:3000 (scheme, host and port only), or * for any, comma-separated', o);
  }
  return [...new Set(list.map((o) => (o === '*' ? o : new URL(o).origin)))];
};

/** A URL with one of `protocols` (`ws:`), without trailing slashes. */
export function url(protocols: readonly string[]): Parse<string> {
  return (v, field) => {
    try {
      if (typeof v !== 'string') throw new TypeError();
      const u = new URL(v);
      if (!protocols.includes(u.protocol)) throw new TypeError();
      return v.replace(/\/+$/, '');
    } catch {
      throw new ConfigError(field, `a ${protocols.map((p) => p.slice(0, -1)).join(' or ')} URL`, v);
    }
  };
}
