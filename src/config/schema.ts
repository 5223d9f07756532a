/**
 * The config schema: the config is a tree of declared nodes (leaves, sections, lists), and a leaf's declaration
 * is the one place that states its file key, value type and bounds, default, flag, environment variable and
 * help. From the tree come the defaults (`init`), the file layer (`read`), the env and flag layers
 * (`settings`), the parseArgs options and the --help rows (config.ts), and the list of leaves tests check.
 *
 * Adding a field: add it to the section's interface (the compiler refuses the section's declaration until it
 * has the key too), then declare it there with `leaf(type, default, { file?, cli? })`: the type from fields.ts
 * with its bounds; `file` when the file spells it differently (`grace` for `graceMs`); `cli: { flag, value,
 * help }` to make it a flag and a CANDLESTACK_ variable as well (the variable is named after the flag).
 */
import { ConfigError } from '../core/errors.js';
import { child, mapping, type Obj, type Parse } from './fields.js';

/** One setting reachable from a flag (`--grace`) and an environment variable (`CANDLESTACK_GRACE`). */
export interface Setting<T = any, P = any> {
  readonly flag: string;
  readonly env: string;
  /** The placeholder in help: LIST, DURATION, URL ... */
  readonly value: string;
  readonly help: string;
  /** The default as help writes it, when help states one. */
  readonly shown: string | undefined;
  /** The value after the raw string was given for it; `name` is the flag or variable, for errors. */
  apply(current: T, raw: string, name: string, parent: P): T;
}

/** A declared leaf, for tests and docs: where it is in the file and what its default is. */
export interface LeafInfo {
  /** As errors name it: `candles.grace`, `exchanges[0].symbols`, `breakers.store_write.openFor`. */
  readonly field: string;
  readonly path: readonly (string | number)[];
  /** Its value in defaultConfig() (undefined: not set). */
  readonly default: unknown;
  /** The leaf's own validation of a file value, in the default config's context. */
  readonly parse: (v: unknown) => unknown;
}

export interface Node<T, P = any> {
  /** Its key in the file, when that differs from its key in the config (`grace` for `graceMs`). */
  readonly file?: string | undefined;
  /** The file keys it reads from its parent's mapping, when it has none of its own (`breakers.openFor`). */
  readonly inline?: readonly string[] | undefined;
  /** A new value read from the file must give it (an exchange entry's `id`); its default serves the default config only. */
  readonly required?: boolean | undefined;
  /** Its default; `parent` is the containing value as built so far. */
  init(parent: P): T;
  /** Its value after the file gave `raw` (inline: the parent's whole mapping); `field` names it in errors. */
  read(raw: unknown, field: string, current: T, parent: P): T;
  readonly settings: readonly Setting<T, P>[];
  leaves(field: string, path: readonly (string | number)[], value: T, parent: P): LeafInfo[];
}

export const envName = (flag: string): string => `CANDLESTACK_${flag.toUpperCase().replace(/-/g, '_')}`;

/** A setting that is not one leaf's (e.g. `--exchanges`, which rebuilds the list); the env name follows the flag. */
export function setting<T, P = any>(s: { flag: string; value: string; help: string; shown?: string; apply: Setting<T, P>['apply'] }): Setting<T, P> {
  return { flag: s.flag, env: envName(s.flag), value: s.value, help: s.help, shown: s.shown, apply: s.apply };
}

export interface Cli {
  flag: string;
  value: string;
  /** `{default}` is replaced by the default as help writes it. */
  help: string;
}

const clone = <T>(v: T): T => (typeof v === 'object' && v !== null ? structuredClone(v) : v);

const show = (parse: Parse<any, any>, v: unknown): string => (parse.show ? parse.show(v) : Array.isArray(v) ? v.join(',') : String(v));

/**
 * A field: its value type, its default (or a function of the containing value), where the file spells it
 * (`file`, default its config key) and its flag (`cli`).
 */
export function leaf<T, P = any>(parse: Parse<T, P>, def: T | ((parent: P) => T), opts: { file?: string; required?: boolean; cli?: Cli } = {}): Node<T, P> {
  const init = (parent: P): T => clone(typeof def === 'function' ? (def as (p: P) => T)(parent) : def);
  const settings: Setting<T, P>[] = [];
  if (opts.cli) {
    const shown = opts.cli.help.includes('{default}') ? show(parse, init(undefined as P)) : undefined;
    settings.push(setting<T, P>({ ...opts.cli, help: opts.cli.help.replace('{default}', shown ?? ''), shown, apply: (_current, raw, name, parent) => parse(raw, name, parent) }));
  }
  return {
    file: opts.file,
    required: opts.required,
    init,
    read: (raw, field, _current, parent) => parse(raw, field, parent),
    settings,
    leaves: (field, path, value, parent) => [{ field, path, default: value, parse: (v) => parse(v, field, parent) }],
  };
}

export type Fields<T> = { [K in keyof T]-?: Node<T[K], T> };

export interface SectionOptions<T> {
  /** A value other than a mapping that stands for one (`store: sqlite:...` for `{ url: ... }`), or undefined. */
  shorthand?: (raw: unknown) => Obj | undefined;
  /** What an error says is expected when the value is not a mapping; default `a mapping with keys ...`. */
  expected?: (keys: readonly string[]) => string;
  /** The file replaces the defaults instead of merging into them (retention: a timeframe not listed is kept forever). */
  replace?: boolean;
  /** Checks across fields, after the file's fields were read. */
  check?: (value: T, given: Obj, field: string) => void;
  /** Its keys sit in the parent's mapping (`breakers.openFor` is `breakers.defaults.openMs`). */
  inline?: boolean;
}

export type Section<T> = Node<T> & {
  readonly keys: readonly string[];
  /** The default, with the required fields taken from `seed`. */
  init(parent: unknown, seed?: Partial<T>): T;
};

/** A mapping of fields; in the file its keys are the fields' file keys, in declaration order. */
export function section<T extends object>(fields: Fields<T>, opts: SectionOptions<T> = {}): Section<T> {
  /** k: the config key, key: the file key. */
  const entries = Object.entries(fields).map(([k, n]) => ({ k: k as keyof T & string, n: n as Node<unknown, T>, key: (n as Node<unknown>).file ?? k }));
  const keys = entries.flatMap(({ n, key }) => n.inline ?? [key]);
  const put = (o: T, k: keyof T & string, v: unknown) => {
    if (v === undefined) delete o[k];
    else o[k] = v as T[keyof T & string];
  };
  const init = (_parent: unknown, seed: Partial<T> = {}): T => {
    const out = {} as T;
    for (const { k, n } of entries) put(out, k, k in seed ? seed[k] : n.init(out));
    return out;
  };
  return {
    keys,
    inline: opts.inline ? keys : undefined,
    init,
    read(raw, field, current) {
      const given = opts.inline ? (raw as Obj) : mapping(opts.shorthand?.(raw) ?? raw, field, keys, opts.expected?.(keys));
      const fresh = current === undefined && !opts.replace;
      let value = opts.replace ? ({} as T) : current;
      if (fresh) {
        // A new value (a list element): its required fields first, since other defaults may depend on them.
        const seed = {} as T;
        for (const { k, n, key } of entries) if (n.required) put(seed, k, n.read(given[key], child(field, key), undefined, seed));
        value = init(undefined, seed);
      }
      for (const { k, n, key } of entries) {
        if (fresh && n.required) continue;
        if (n.inline) put(value, k, n.read(given, field, value[k], value));
        else if (given[key] !== undefined) put(value, k, n.read(given[key], child(field, key), value[k], value));
      }
      opts.check?.(value, given, field);
      return value;
    },
    settings: entries.flatMap(({ k, n }) => n.settings.map((s): Setting<T> => ({ ...s, apply: (o, raw, name) => (put(o, k, s.apply(o[k], raw, name, o)), o) }))),
    leaves: (field, path, value) =>
      entries.flatMap(({ k, n, key }) => (n.inline ? n.leaves(field, path, value[k], value) : n.leaves(child(field, key), [...path, key], value[k], value))),
  };
}

/** A section with the same value type for every key (`quality.weights`, `kafka.topics`, `retention`). */
export function record<K extends string, V>(keys: readonly K[], node: (key: K) => Node<V>, opts: SectionOptions<Record<K, V>> = {}): Section<Record<K, V>> {
  return section(Object.fromEntries(keys.map((k) => [k, node(k)])) as Fields<Record<K, V>>, opts);
}

/** A section that sets only the fields the file gives, undefined when not given (per-component breaker overrides). */
export function partial<T extends object>(s: Section<T>): Node<Partial<T> | undefined> {
  return {
    init: () => undefined,
    read: (raw, field) => s.read(raw, field, {} as T, undefined),
    settings: [],
    leaves: (field, path, _value, parent) => s.leaves(field, path, s.init(parent), parent),
  };
}

/** A non-empty list of sections (`exchanges`); `settings` are the list's own, then each element's applied to all. */
export function list<E extends object>(element: Section<E>, opts: { init: () => E[]; expected: string; settings?: Setting<E[]>[] }): Node<E[]> {
  return {
    init: opts.init,
    read(raw, field) {
      if (!Array.isArray(raw) || raw.length === 0) throw new ConfigError(field, opts.expected, raw);
      return raw.map((e, i) => element.read(e, `${field}[${i}]`, undefined as unknown as E, undefined));
    },
    settings: [
      ...(opts.settings ?? []),
      ...element.settings.map((s): Setting<E[]> => ({ ...s, apply: (items, raw, name) => (items.forEach((e) => s.apply(e, raw, name, items)), items) })),
    ],
    leaves: (field, path, value) => (value[0] === undefined ? [] : element.leaves(`${field}[0]`, [...path, 0], value[0], value)),
  };
}
