/**
 * Issue 19 item 3: the backfiller logged "gap backfilled" when REST returned fewer periods than asked. It
 * reports a partial fill, asks again for the periods missing, and reports what stays missing after its retries.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { Backfiller, PARTIAL_RETRIES, type BackfillSource } from '../../src/jobs/backfill.js';
import { CandleEngine } from '../../src/pipeline/candle-engine.js';
import { binance } from '../../src/exchanges/binance/feed.js';
import type { RestClient } from '../../src/feed/rest-client.js';
import type { Kline } from '../../src/core/types.js';
import type { ExchangeId } from '../../src/core/exchange-id.js';
import { FakeClock } from '../support/fake-clock.js';
import { testMetrics } from '../support/harness.js';

const MIN = 60_000;
const T0 = Date.UTC(2024, 0, 1, 10, 0);

const kline = (openTime: number): Kline => ({
  type: 'kline', exchange: 'binance', symbol: 'BTC-USDT', timeframe: '1m', openTime, open: '1', high: '1', low: '1', close: '1', volume: '1', quoteVolume: '1',
  takerBuyVolume: '0', tradeCount: 1, closed: true, time: openTime + MIN, receivedAt: openTime + MIN,
});

test('a short REST answer is reported partial and the missing periods are asked again; what never comes is reported', async () => {
  const lines: { msg: string; asked?: number; received?: number; missing?: number }[] = [];
  const logger = pino({ level: 'info' }, new Writable({ write: (c, _e, cb) => (lines.push(JSON.parse(String(c))), cb()) }));
  const clock = new FakeClock(T0 + 10 * MIN);
  const metrics = testMetrics();
  const engine = new CandleEngine({ timeframes: ['1m'], graceMs: 0, latePolicy: 'drop', clock, metrics, log: logger, emit: () => undefined });
  const asks: [number, number][] = [];
  // Answers the first two periods asked for at the first call, then everything but 10:04 (never there).
  const fetchKlines: BackfillSource['adapter']['fetchKlines'] = async (_r, _e, _s, _tf, from, to) => {
    asks.push([from, to]);
    const out: Kline[] = [];
    for (let t = from; t <= to; t += MIN) if (t !== T0 + 4 * MIN && (asks.length > 1 || t < from + 2 * MIN)) out.push(kline(t));
    return out;
  };
  const sources = new Map<ExchangeId, BackfillSource>([['binance', { adapter: { ...binance, fetchKlines }, endpoints: binance.defaultEndpoints, rest: {} as RestClient }]]);
  const backfiller = new Backfiller({ sources, engine, timeframes: ['1m'], graceMs: 0, settleMs: 0, clock, metrics, log: logger });
  backfiller.onGap({ type: 'gap', exchange: 'binance', symbol: 'BTC-USDT', from: T0, to: T0 + 5 * MIN + 1, cause: 'reconnect' }); // 10:00..10:05
  await backfiller.runDue(clock.now());
  assert.deepEqual(lines.filter((l) => l.msg === 'gap backfilled'), [], 'not "backfilled" after 2 of 6 periods');
  const partial = lines.find((l) => l.msg.startsWith('gap partly backfilled'));
  assert.deepEqual([partial?.asked, partial?.received], [6, 2]);
  assert.equal(backfiller.pending, 1, 'the rest is still pending');
  for (let i = 0; i < PARTIAL_RETRIES + 1 && backfiller.pending > 0; i++) {
    clock.advance(120_000);
    await backfiller.runDue(clock.now());
  }
  assert.deepEqual(asks.slice(0, 2), [[T0, T0 + 6 * MIN - 1], [T0 + 2 * MIN, T0 + 6 * MIN - 1]], 'the second call asks for the missing periods only');
  assert.equal(backfiller.pending, 0);
  const last = lines.filter((l) => l.msg.startsWith('gap partly backfilled')).at(-1)!;
  assert.equal(last.missing, 1, '10:04 reported missing after the retries');
  assert.deepEqual(lines.filter((l) => l.msg === 'gap backfilled'), []);
});
