/**
 * The bus between pipeline stages. Topics are typed. Every role runs its stages on the in-process bus
 * (memory.ts: synchronous fan-out); the Kafka bus (kafka.ts: buffered, asynchronous) sits only at a role's
 * edge, relayed to and from the local bus (src/app/kafka-relay.ts). Publishers never wait: `publish` returns
 * at once and an implementation that can fill up says so through its metrics.
 */
import type { CandleEvent, GapEvent, IndicatorEvent, Kline, Trade } from '../core/types.js';
import type { FeatureVector } from '../assistant/features.js';

export interface BusTopics {
  trade: Trade;
  kline: Kline;
  candle: CandleEvent;
  gap: GapEvent;
  indicator: IndicatorEvent;
  /** The feature vector of each closed candle (src/assistant/feature-engine.ts). */
  feature: FeatureVector;
}

export type Topic = keyof BusTopics;
export const TOPICS = ['trade', 'kline', 'candle', 'gap', 'indicator', 'feature'] as const satisfies readonly Topic[];

export type Handler<T extends Topic> = (message: BusTopics[T]) => void;

export interface Bus {
  readonly kind: string;
  publish<T extends Topic>(topic: T, message: BusTopics[T]): void;
  /** Returns a function that unsubscribes. */
  subscribe<T extends Topic>(topic: T, handler: Handler<T>): () => void;
  /** Drops every subscription (memory) or stops consuming and drains the producer (broker). */
  stop(): Promise<void>;
  /** A broker-backed bus starts consuming here, once every subscription is declared (the memory bus needs none). */
  start?(): Promise<void>;
}
