/**
 * Streaming behaviour of the indicators and the IndicatorEngine on real Binance klines: peek never commits,
 * VWAP sessions reset at 00:00 UTC, corrections replay the series, warm-up continues a series exactly, and
 * the metrics count what was computed.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Candle, CandleEvent, IndicatorEvent } from '../src/core/types.js';
import { toBar } from '../src/pipeline/indicators/indicator.js';
import { IndicatorEngine } from '../src/pipeline/indicators/engine.js';
import { createIndicator, createIndicators, DEFAULT_INDICATOR_SPECS, type IndicatorSpec } from '../src/pipeline/indicators/specs.js';
import { toScaled } from '../src/pipeline/indicators/exact-window.js';
import { Vwap } from '../src/pipeline/indicators/vwap.js';
import { log, testMetrics } from './support/harness.js';
import { loadKlines } from './support/klines.js';
import { metricValue } from './support/metrics.js';

const candles = loadKlines('XRPETH-1m-2019-10-11.json', 'XRP-ETH', '1m');
const SPECS: IndicatorSpec[] = [...DEFAULT_INDICATOR_SPECS, { kind: 'sma', period: 5 }, { kind: 'macd', fast: 3, slow: 7, signal: 4 }];

function engine(opts: { history?: number; forming?: boolean; formingWatchedOnly?: boolean } = {}) {
  const events: IndicatorEvent[] = [];
  const metrics = testMetrics();
  const e = new IndicatorEngine({ specs: SPECS, forming: opts.forming ?? true, history: opts.history ?? 500, metrics: metrics.indicators, log, emit: (ev) => events.push(ev), formingWatchedOnly: opts.formingWatchedOnly ?? false });
  return { e, events, metrics };
}

const ev = (candle: Candle, kind: CandleEvent['kind'] = 'close'): CandleEvent => ({ type: 'candle', kind, candle });

/** Values of every indicator at every candle, computed in one batch pass (the expected stream). */
function batch(cs: readonly Candle[]): Map<number, Record<string, unknown>> {
  const inds = createIndicators(SPECS);
  const out = new Map<number, Record<string, unknown>>();
  for (const c of cs) {
    const values: Record<string, unknown> = {};
    for (const i of inds) {
      const v = i.next(toBar(c));
      if (v) values[i.name] = { ...v }; // a copy: an indicator may reuse its record
    }
    if (Object.keys(values).length > 0) out.set(c.openTime, values);
  }
  return out;
}

describe('streaming indicators', () => {
  for (const spec of SPECS) {
    test(`${createIndicator(spec).name}: peek(bar) equals next(bar) and changes nothing`, () => {
      const a = createIndicator(spec);
      const b = createIndicator(spec);
      for (const c of candles) {
        const bar = toBar(c);
        // peek twice with a different forming bar first: the committed state must not move
        a.peek({ ...bar, close: bar.close * 1.5, closeText: String(bar.close * 1.5), high: bar.high * 2 });
        const peeked = a.peek(bar);
        assert.deepEqual(peeked, a.next(bar));
        assert.deepEqual(b.next(bar), peeked, 'an indicator that was never peeked agrees');
      }
    });
  }

  test('VWAP: a session is the UTC day; the sums reset at 00:00 UTC', () => {
    const v = new Vwap();
    const day = Date.UTC(2024, 0, 2);
    const bar = (t: number, price: number, volume: number) => ({ openTime: t, open: price, high: price, low: price, close: price, volume, closeText: String(price) });
    assert.equal(v.next(bar(day - 120_000, 100, 1))!.value, 100);
    assert.equal(v.next(bar(day - 60_000, 200, 3))!.value, 175);
    assert.equal(v.peek(bar(day, 400, 1))!.value, 400, 'the forming candle of a new day starts a new session');
    assert.equal(v.next(bar(day, 400, 1))!.value, 400);
    assert.equal(v.next(bar(day + 60_000, 100, 1))!.value, 250);
    assert.equal(new Vwap().next(bar(day, 5, 0)), null, 'no value before the session traded');
  });

  test('exact decimals: sums are not disturbed by binary rounding', () => {
    assert.equal(toScaled('0.1', 0.1) + toScaled('0.2', 0.2), toScaled('0.3', 0.3));
    assert.equal(toScaled('-12.5', -12.5), -12_500_000_000_000_000_000n);
    assert.equal(toScaled('1e-7', 1e-7), 100_000_000_000n);
    const sma = createIndicator({ kind: 'sma', period: 3 });
    const at = (i: number, close: string) => sma.next({ ...toBar(candles[i]!), close: Number(close), closeText: close });
    at(0, '0.1');
    at(1, '0.2');
    assert.equal(at(2, '0.3')!.value, 0.2);
  });
});

describe('IndicatorEngine', () => {
  test('close events publish every ready indicator; values equal a batch computation', () => {
    const { e, events } = engine();
    for (const c of candles) e.onCandle(ev(c));
    const want = batch(candles);
    const closes = events.filter((x) => x.kind === 'close');
    assert.equal(closes.length, want.size);
    for (const x of closes) {
      assert.deepEqual(x.values, want.get(x.openTime));
      assert.deepEqual([x.exchange, x.symbol, x.timeframe], ['binance', 'XRP-ETH', '1m']);
    }
    const last = closes[closes.length - 1]!;
    assert.deepEqual(Object.keys(last.values).sort(), e.names.sort(), 'all indicators are ready by the end');
    assert.deepEqual(e.names.slice(0, 7), ['sma20', 'ema20', 'rsi14', 'macd12_26_9', 'bb20_2', 'atr14', 'vwap']);
  });

  test('forming candles: update events peek without committing; off when forming is false', () => {
    const { e, events } = engine();
    const head = candles.slice(0, 40);
    for (const c of head) e.onCandle(ev(c));
    const next = candles[40]!;
    e.onCandle(ev({ ...next, closed: false, close: '0.00150000', high: '0.00150000' }, 'update'));
    e.onCandle(ev({ ...next, closed: false }, 'update'));
    const updates = events.filter((x) => x.kind === 'update');
    assert.equal(updates.length, 2);
    assert.notDeepEqual(updates[0]!.values, updates[1]!.values);
    e.onCandle(ev(next));
    const close = events[events.length - 1]!;
    assert.equal(close.kind, 'close');
    assert.deepEqual(close.values, updates[1]!.values, 'the close equals the last forming value of the same candle');
    assert.deepEqual(close.values, batch(candles.slice(0, 41)).get(next.openTime));

    const off = engine({ forming: false });
    off.e.onCandle(ev(candles[0]!));
    off.e.onCandle(ev({ ...candles[1]!, closed: false }, 'update'));
    assert.deepEqual(off.events.map((x) => x.kind), ['close']);
  });

  test('formingWatchedOnly: forming values only for watched series, equal to those computed for all; closes always', () => {
    const all = engine();
    const some = engine({ formingWatchedOnly: true });
    const other = { ...candles[0]!, symbol: 'BTC-ETH' };
    const feed = (c: Candle, kind: CandleEvent['kind']) => {
      all.e.onCandle(ev(c, kind));
      some.e.onCandle(ev(c, kind));
    };
    for (const c of candles.slice(0, 40)) feed(c, 'close');
    feed(other, 'close');
    const forming = (i: number) => ({ ...candles[i]!, closed: false });
    feed(forming(40), 'update');
    assert.deepEqual(some.events.filter((x) => x.kind === 'update'), [], 'nobody watches: no forming values');
    some.e.setWatched('binance', 'XRP-ETH', '1m', true);
    feed({ ...forming(40), close: '0.00150000', high: '0.00150000' }, 'update');
    feed({ ...other, openTime: other.openTime + 60_000, closed: false }, 'update'); // not watched
    const watchedUpdates = some.events.filter((x) => x.kind === 'update');
    assert.equal(watchedUpdates.length, 1);
    assert.deepEqual(watchedUpdates[0], all.events.filter((x) => x.kind === 'update')[1], 'the same values as when every series is computed');
    some.e.setWatched('binance', 'XRP-ETH', '1m', false);
    feed(forming(40), 'update');
    assert.equal(some.events.filter((x) => x.kind === 'update').length, 1, 'unwatched again');
    feed(candles[40]!, 'close');
    assert.deepEqual(some.events.filter((x) => x.kind === 'close'), all.events.filter((x) => x.kind === 'close'), 'closes for every series, watched or not');
  });

  test('a correction replays the series: later values are republished as corrections and continue correctly', async () => {
    const { e, events, metrics } = engine();
    for (const c of candles.slice(0, 100)) e.onCandle(ev(c));
    const amended = { ...candles[90]!, close: '0.00145000', high: '0.00145000', revision: 1, source: 'backfill' as const };
    const corrected = [...candles.slice(0, 90), amended, ...candles.slice(91)];
    e.onCandle(ev(amended, 'correction'));
    e.onCandle(ev({ ...candles[91]!, revision: 1 }, 'correction')); // a backfill batch: replayed once
    await Promise.resolve();
    const fixes = events.filter((x) => x.kind === 'correction');
    assert.deepEqual(fixes.map((x) => x.openTime), candles.slice(90, 100).map((c) => c.openTime));
    const want = batch(corrected);
    for (const x of fixes) assert.deepEqual(x.values, want.get(x.openTime));
    for (const c of corrected.slice(100)) e.onCandle(ev(c));
    const last = events[events.length - 1]!;
    assert.deepEqual(last.values, want.get(last.openTime), 'the stream continues from the corrected state');
    assert.equal(await metricValue(metrics, 'candlestack_indicator_recalculations_total', { result: 'replayed' }), 1);
  });

  test('a correction older than the history is counted and ignored', async () => {
    const { e, events, metrics } = engine({ history: 60 });
    for (const c of candles.slice(0, 100)) e.onCandle(ev(c));
    const before = events.length;
    e.onCandle(ev({ ...candles[10]!, close: '0.00100000' }, 'correction'));
    e.flush();
    assert.equal(events.length, before);
    assert.equal(await metricValue(metrics, 'candlestack_indicator_recalculations_total', { result: 'too_old' }), 1);
  });

  test('warm-up from stored candles continues the series exactly where it stopped', async () => {
    const stored = candles.slice(0, 250);
    const store = { query: async (q: { limit: number; to?: number }) => [...stored.filter((c) => c.openTime <= (q.to ?? Infinity)).slice(-q.limit), { ...candles[250]!, closed: false }] };
    const { e, events } = engine({ history: 300 });
    const loaded = await e.warmUp(store, [{ exchange: 'binance', symbol: 'XRP-ETH', timeframe: '1m' }], candles[251]!.openTime);
    assert.equal(loaded, 250);
    assert.equal(events.length, 0, 'warm-up publishes nothing');
    for (const c of candles.slice(250)) e.onCandle(ev(c));
    const want = batch(candles);
    assert.equal(events.length, 110);
    for (const x of events) assert.deepEqual(x.values, want.get(x.openTime), `value at ${x.openTime}`);
  });

  test('metrics: calculation duration per indicator kind and features calculated', async () => {
    const { e, metrics } = engine();
    for (const c of candles.slice(0, 30)) e.onCandle(ev(c));
    e.onCandle(ev({ ...candles[30]!, closed: false }, 'update'));
    assert.equal(await metricValue(metrics, 'candlestack_indicator_calculation_duration_seconds_count', { indicator: 'sma' }), 60, 'two SMAs on 30 closes');
    assert.equal(await metricValue(metrics, 'candlestack_indicator_calculation_duration_seconds_count', { indicator: 'vwap' }), 30);
    // sma5: 26 closes + 1 forming; sma20: 11 + 1
    assert.equal(await metricValue(metrics, 'candlestack_indicator_values_calculated_total', { indicator: 'sma' }), 26 + 1 + 11 + 1);
    assert.equal(await metricValue(metrics, 'candlestack_indicator_values_calculated_total', { indicator: 'vwap' }), 31);
  });
});
