/**
 * What the Kafka bus puts on the wire. Pure functions, no I/O.
 *
 * - Keys are `exchange:symbol`, so one symbol's events stay ordered in one partition.
 * - Values are a versioned JSON envelope `{"v":1,"type":"trade","data":{...}}` (trades, candles, gaps,
 *   indicator values, feature vectors).
 * - The exchange's closed klines go to `binance_kline` (name configurable) as the flat JSON the seed
 *   exporter published (symbol, interval, open_time, close_time, open, high, low, close, volume, ...) plus
 *   `"v":1` and `"exchange"`: decimals stay the exchange's exact strings. A kline still forming is not
 *   published there (the topic carries closed klines only, as the seed did).
 * - Headers: `content-type: application/json`, and with tracing on `traceparent` (W3C trace context of
 *   the producer's send span, shared by the messages of one send; the consumer continues that trace).
 */
import type { Kline } from '../core/types.js';
import { isTimeframe, timeframeMs } from '../core/timeframe.js';
import type { BusTopics, Topic } from './bus.js';
import { isExchangeId, type ExchangeId } from '../core/exchange-id.js';

export const ENVELOPE_VERSION = 1;

export { DEFAULT_KAFKA_TOPICS, type KafkaTopicNames } from '../core/kafka-topics.js';

export class KafkaDecodeError extends Error {
  override name = 'KafkaDecodeError';
}

export function messageKey(message: BusTopics[Topic]): string {
  return 'candle' in message ? `${message.candle.exchange}:${message.candle.symbol}` : `${message.exchange}:${message.symbol}`;
}

/** The JSON value for a topic, or null when this message does not go on Kafka (a kline still forming). */
export function encode<T extends Topic>(topic: T, message: BusTopics[T]): string | null {
  if (topic === 'kline') {
    const k = message as Kline;
    if (!k.closed) return null;
    return JSON.stringify(klineToSeedJson(k));
  }
  return JSON.stringify({ v: ENVELOPE_VERSION, type: topic, data: message });
}

export function decode<T extends Topic>(topic: T, value: Buffer | string): BusTopics[T] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(typeof value === 'string' ? value : value.toString('utf8'));
  } catch (err) {
    throw new KafkaDecodeError(`${topic}: not JSON`, { cause: err });
  }
  if (typeof parsed !== 'object' || parsed === null) throw new KafkaDecodeError(`${topic}: not a JSON object`);
  const o = parsed as Record<string, unknown>;
  if (o.v !== ENVELOPE_VERSION) throw new KafkaDecodeError(`${topic}: unsupported envelope version ${JSON.stringify(o.v)}`);
  if (topic === 'kline') return seedJsonToKline(o) as BusTopics[T];
  if (o.type !== topic || typeof o.data !== 'object' || o.data === null) throw new KafkaDecodeError(`${topic}: envelope type ${JSON.stringify(o.type)}`);
  const data = o.data as Record<string, unknown>;
  const ok =
    topic === 'trade' ? isTrade(data) : topic === 'candle' ? isCandleEvent(data) : topic === 'gap' ? isGap(data) : topic === 'indicator' ? isIndicator(data) : topic === 'feature' ? isFeature(data) : false;
  if (!ok) throw new KafkaDecodeError(`${topic}: malformed payload`);
  return data as unknown as BusTopics[T];
}

/** The seed exporter's closed-kline JSON (exact decimal strings), versioned. */
export interface SeedKlineJson {
  v: number;
  exchange: string;
  symbol: string;
  interval: string;
  open_time: number;
  close_time: number;
  open: string;
  high: string;
  low: string;
  close: string;
  volume: string;
  quote_volume: string | null;
  taker_buy_volume: string | null;
  trades: number | null;
  is_closed: boolean;
  event_time: number;
  received_at: number;
}

export function klineToSeedJson(k: Kline): SeedKlineJson {
  return {
    v: ENVELOPE_VERSION,
    exchange: k.exchange,
    symbol: k.symbol,
    interval: k.timeframe,
    open_time: k.openTime,
    close_time: k.openTime + timeframeMs(k.timeframe) - 1,
    open: k.open,
    high: k.high,
    low: k.low,
    close: k.close,
    volume: k.volume,
    quote_volume: k.quoteVolume,
    taker_buy_volume: k.takerBuyVolume,
    trades: k.tradeCount,
    is_closed: k.closed,
    event_time: k.time,
    received_at: k.receivedAt,
  };
}

function seedJsonToKline(o: Record<string, unknown>): Kline {
  const str = (k: string) => {
    if (typeof o[k] !== 'string') throw new KafkaDecodeError(`kline: field ${k} must be a string`);
    return o[k] as string;
  };
  const num = (k: string) => {
    if (typeof o[k] !== 'number' || !Number.isFinite(o[k])) throw new KafkaDecodeError(`kline: field ${k} must be a number`);
    return o[k] as number;
  };
  const optStr = (k: string) => (o[k] === null || o[k] === undefined ? null : str(k));
  const optNum = (k: string) => (o[k] === null || o[k] === undefined ? null : num(k));
  const interval = str('interval');
  if (!isTimeframe(interval)) throw new KafkaDecodeError(`kline: unknown interval ${interval}`);
  return {
    type: 'kline',
    exchange: exchangeId(str('exchange')),
    symbol: str('symbol'),
    timeframe: interval,
    openTime: num('open_time'),
    open: str('open'),
    high: str('high'),
    low: str('low'),
    close: str('close'),
    volume: str('volume'),
    quoteVolume: optStr('quote_volume'),
    takerBuyVolume: optStr('taker_buy_volume'),
    tradeCount: optNum('trades'),
    closed: o.is_closed === true,
    time: num('event_time'),
    receivedAt: num('received_at'),
  };
}

const isStr = (v: unknown) => typeof v === 'string';
const isNum = (v: unknown) => typeof v === 'number' && Number.isFinite(v);

function isTrade(d: Record<string, unknown>): boolean {
  return d.type === 'trade' && isExchangeId(d.exchange) && isStr(d.symbol) && isNum(d.id) && isStr(d.price) && isStr(d.qty) && (d.side === 'buy' || d.side === 'sell') && isNum(d.count) && isNum(d.time) && isNum(d.receivedAt);
}

function isCandleEvent(d: Record<string, unknown>): boolean {
  const c = d.candle as Record<string, unknown> | null | undefined;
  return d.type === 'candle' && isStr(d.kind) && typeof c === 'object' && c !== null && isExchangeId(c.exchange) && isStr(c.symbol) && isStr(c.timeframe) && isNum(c.openTime) && isStr(c.close);
}

/** A feature vector: its series, the candle's openTime and close, and every value a number or null. */
function isFeature(d: Record<string, unknown>): boolean {
  if (!(isExchangeId(d.exchange) && isStr(d.symbol) && isTimeframe(d.timeframe) && isNum(d.openTime) && isNum(d.close))) return false;
  const v = d.values;
  return typeof v === 'object' && v !== null && !Array.isArray(v) && Object.values(v).every((x) => x === null || isNum(x));
}

function isIndicator(d: Record<string, unknown>): boolean {
  return d.type === 'indicator' && isStr(d.kind) && isExchangeId(d.exchange) && isStr(d.symbol) && isStr(d.timeframe) && isNum(d.openTime) && typeof d.values === 'object' && d.values !== null;
}

function isGap(d: Record<string, unknown>): boolean {
  return d.type === 'gap' && isExchangeId(d.exchange) && isStr(d.symbol) && isNum(d.from) && isNum(d.to) && isStr(d.cause);
}

function exchangeId(v: string): ExchangeId {
  if (!isExchangeId(v)) throw new KafkaDecodeError(`unknown exchange ${JSON.stringify(v)}`);
  return v;
}
