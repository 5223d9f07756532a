/**
 * The one lifecycle contract: a part of a role that runs (a server, a writer, a consumer, a timer) starts and
 * stops. Roots register services in start order; the Lifecycle (src/app/lifecycle.ts) stops them in reverse.
 */
export interface Service {
  /** Names the service in logs ("store", "candle-writer", "kafka-consumer", ...). */
  readonly name: string;
  start(): void | Promise<void>;
  /** Called once, after `start` resolved. Releases everything `start` took; must not throw for a normal stop. */
  stop(): void | Promise<void>;
}

/** A service from two functions (for parts whose own methods have other names, such as a store's `close`). */
export function service(name: string, start: () => void | Promise<void>, stop: () => void | Promise<void>): Service {
  return { name, start, stop };
}
