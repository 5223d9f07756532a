/**
 * The bus between pipeline stages. Topics are typed; the in-process implementation (memory.ts) delivers
 * synchronously, a broker-backed one (Kafka, later) buffers and delivers asynchronously. Publishers never
 * wait: `publish` returns at once and an implementation that can fill up says so through its metrics.
 */
import type { CandleEvent, GapEvent, IndicatorEvent, Kline, Trade } from '../core/types.js';

export interface BusTopics {
  trade: Trade;
  kline: Kline;
  candle: CandleEvent;
  gap: GapEvent;
  indicator: IndicatorEvent;
}

export type Topic = keyof BusTopics;
export const TOPICS = ['trade', 'kline', 'candle', 'gap', 'indicator'] as const satisfies readonly Topic[];

export type Handler<T extends Topic> = (message: BusTopics[T]) => void;

export interface Bus {
  readonly kind: string;
  publish<T extends Topic>(topic: T, message: BusTopics[T]): void;
  /** Returns a function that unsubscribes. */
  subscribe<T extends Topic>(topic: T, handler: Handler<T>): () => void;
  close(): Promise<void>;
  /** A broker-backed bus starts consuming here, once every subscription is declared (the memory bus needs none). */
  start?(): Promise<void>;
}
