/**
 * The data-fidelity anchor, on REAL Binance frames (test/fixtures/binance, see PROVENANCE.md): trades mapped by
 * binanceMapper and aggregated by CandleEngine must reproduce Binance's own klines to the last decimal.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { CandleEngine } from '../src/pipeline/candle-engine.js';
import { Reconciler, diffCandle } from '../src/pipeline/reconciler.js';
import { klineToCandle } from '../src/core/kline.js';
import type { Candle, CandleEvent, Kline } from '../src/core/types.js';
import { FakeClock } from './support/fake-clock.js';
import { log, testMetrics } from './support/harness.js';
import { APRIL, AUGUST, loadFrames, type Frame } from './support/binance-fixtures.js';
import { metricValue } from './support/metrics.js';

const april = loadFrames(APRIL);
const august = loadFrames(AUGUST);
const aggTrades = (frames: Frame[], symbol: string) =>
  frames.filter((x): x is Extract<Frame, { kind: 'trade' }> => x.kind === 'trade' && x.trade.symbol === symbol);
const klineAt = (frames: Frame[], symbol: string, E: number) => {
  const k = frames.find((x): x is Extract<Frame, { kind: 'kline' }> => x.kind === 'kline' && x.kline.symbol === symbol && x.E === E);
  assert.ok(k, `kline ${symbol} E=${E} in fixture`);
  return k;
};

const FIELDS = ['open', 'high', 'low', 'close', 'volume', 'quoteVolume', 'takerBuyVolume'] as const;

/** Our candle equals the exchange kline: diffCandle finds nothing, and the volume strings are byte-identical. */
function assertSameAsExchange(ours: Candle | undefined, k: Kline, where: string): void {
  assert.ok(ours, `${where}: we have a candle`);
  assert.equal(ours.openTime, k.openTime, `${where}: openTime`);
  assert.deepEqual(diffCandle(ours, k), [], `${where}: diffCandle`);
  for (const f of FIELDS) assert.equal(ours[f], k[f], `${where}: ${f} (exact string)`);
  assert.equal(ours.tradeCount, k.tradeCount, `${where}: tradeCount`);
}

function newEngine(start: number) {
  const clock = new FakeClock(start);
  const metrics = testMetrics();
  const events: CandleEvent[] = [];
  let onEvent: (e: CandleEvent) => void = () => {};
  const engine = new CandleEngine({
    timeframes: ['1m'],
    graceMs: 2_000,
    latePolicy: 'drop',
    clock,
    metrics,
    log,
    emit: (e) => {
      events.push(e);
      onEvent(e);
    },
  });
  return { clock, metrics, events, engine, setListener: (fn: (e: CandleEvent) => void) => (onEvent = fn) };
}

describe('fidelity: klines reproduced from the minute first trade (20:04 window, 14:47)', () => {
  const cases: [string, Frame[], string, number, string][] = [
    ['BTCUSDT 20:04 (64 trades)', april, 'BTC-USDT', 1617566644092, 'n=64 v=1.21328700'],
    ['BTCUSDT 20:04 earlier snapshot', april, 'BTC-USDT', 1617566642071, 'n=21 v=0.25659600'],
    ['ETHUSDT 20:04', april, 'ETH-USDT', 1617566642701, 'n=12'],
    ['DOTUSDT 20:04', april, 'DOT-USDT', 1617566642878, 'n=6'],
    ['FTMUSDT 14:47', august, 'FTM-USDT', 1628952424201, 'n=3'],
    ['SXPBTC 14:47', august, 'SXP-BTC', 1628952425327, 'n=1'],
  ];
  for (const [name, frames, symbol, E, note] of cases) {
    test(`${name}: ${note}`, () => {
      const { kline: k, f, L } = klineAt(frames, symbol, E);
      const trades = aggTrades(frames, symbol).filter((x) => x.l <= L);
      // the fixture holds every trade of the minute up to L (contiguous ids from the kline's first trade id)
      const inMinute = trades.filter((x) => x.trade.time >= k.openTime);
      assert.equal(inMinute[0]?.f, f, 'first trade of the minute is recorded');
      assert.equal(inMinute.at(-1)?.l, L);
      assert.equal(inMinute.reduce((s, x) => s + (x.l - x.f + 1), 0), k.tradeCount);

      const { clock, engine } = newEngine(trades[0]!.E);
      for (const x of trades) {
        clock.set(x.E);
        engine.tick(x.E);
        assert.equal(engine.onTrade(x.trade), true);
      }
      assertSameAsExchange(engine.forming('binance', symbol, '1m'), k, name);
    });
  }

  test('PROVENANCE figures for BTCUSDT 20:04 (E=1617566644092) are what the engine prints', () => {
    const { L } = klineAt(april, 'BTC-USDT', 1617566644092);
    const trades = aggTrades(april, 'BTC-USDT').filter((x) => x.l <= L);
    const { engine } = newEngine(trades[0]!.E);
    for (const x of trades) engine.onTrade(x.trade);
    const c = engine.forming('binance', 'BTC-USDT', '1m')!;
    assert.equal(trades.filter((x) => x.trade.time >= c.openTime).length, 55);
    assert.deepEqual(
      { v: c.volume, q: c.quoteVolume, n: c.tradeCount, V: c.takerBuyVolume, o: c.open, h: c.high, l: c.low, c: c.close },
      { v: '1.21328700', q: '70371.20916593', n: 64, V: '1.08687200', o: '57996.66000000', h: '58006.12000000', l: '57996.65000000', c: '58001.38000000' },
    );
  });

  test('a naive float sum does not give the exchange figures; the exact sums do', () => {
    const { kline: k, L } = klineAt(april, 'BTC-USDT', 1617566644092);
    const trades = aggTrades(april, 'BTC-USDT').filter((x) => x.l <= L && x.trade.time >= k.openTime);
    let v = 0;
    let q = 0;
    for (const x of trades) {
      v += Number(x.trade.qty);
      q += Number(x.trade.price) * Number(x.trade.qty);
    }
    assert.ok(v !== Number(k.volume) || q !== Number(k.quoteVolume), `float sums v=${v} q=${q} should drift from ${k.volume}/${k.quoteVolume}`);
    const { engine } = newEngine(trades[0]!.E);
    for (const x of trades) engine.onTrade(x.trade);
    const c = engine.forming('binance', 'BTC-USDT', '1m')!;
    assert.equal(c.volume, k.volume);
    assert.equal(c.quoteVolume, k.quoteVolume);
  });
});

describe('fidelity: closed minutes reproduced as mid-minute snapshot + recorded trades (14:46)', () => {
  const MINUTE = 1628952360000;

  /** Restores from the symbol's first 14:46 snapshot, applies the later trades with l <= untilL, returns the candle. */
  function snapshotPlusTrades(symbol: string, untilL: number): Candle {
    const snapshots = august.filter((x): x is Extract<Frame, { kind: 'kline' }> => x.kind === 'kline' && x.kline.symbol === symbol && x.kline.openTime === MINUTE);
    const first = snapshots[0]!;
    const { clock, engine, events } = newEngine(first.E);
    engine.restore([klineToCandle(first.kline, 'trades')], first.E);
    for (const x of aggTrades(august, symbol)) {
      if (x.f <= first.L || x.l > untilL || x.trade.time >= MINUTE + 60_000) continue;
      clock.set(x.E);
      assert.equal(engine.onTrade(x.trade), true);
    }
    engine.closeAll(clock.now());
    const c = events.filter((e) => e.kind === 'close' && e.candle.symbol === symbol && e.candle.openTime === MINUTE).at(-1)?.candle;
    assert.ok(c, `${symbol} 14:46 closed`);
    return c;
  }

  for (const symbol of ['FTM-USDT', 'SXP-BTC', 'XMR-BTC']) {
    test(`${symbol}: every later snapshot (and the closed kline) equals snapshot + trades`, () => {
      const snapshots = august.filter((x): x is Extract<Frame, { kind: 'kline' }> => x.kind === 'kline' && x.kline.symbol === symbol && x.kline.openTime === MINUTE);
      assert.ok(snapshots.length >= 3, `${symbol} has ${snapshots.length} snapshots`);
      for (const s of snapshots.slice(1)) {
        assertSameAsExchange(snapshotPlusTrades(symbol, s.L), s.kline, `${symbol} E=${s.E} x=${s.kline.closed}`);
      }
    });
  }

  test('FTMUSDT and SXPBTC final x:true klines, figures from PROVENANCE.md', () => {
    const ftm = snapshotPlusTrades('FTM-USDT', Number.MAX_SAFE_INTEGER);
    assert.deepEqual(
      { n: ftm.tradeCount, v: ftm.volume, q: ftm.quoteVolume, V: ftm.takerBuyVolume },
      { n: 82, v: '209224.30000000', q: '71058.51891400', V: '156133.30000000' },
    );
    assertSameAsExchange(ftm, klineAt(august, 'FTM-USDT', 1628952421387).kline, 'FTMUSDT x:true');
    const sxp = snapshotPlusTrades('SXP-BTC', Number.MAX_SAFE_INTEGER);
    assert.deepEqual(
      { n: sxp.tradeCount, v: sxp.volume, q: sxp.quoteVolume, V: sxp.takerBuyVolume },
      { n: 15, v: '566.00000000', q: '0.04233932', V: '373.00000000' },
    );
    assertSameAsExchange(sxp, klineAt(august, 'SXP-BTC', 1628952422394).kline, 'SXPBTC x:true');
  });

  test('XMRBTC needs per-trade quote truncation (0.045 × 0.005773 adds 0.00025978)', () => {
    const last = klineAt(august, 'XMR-BTC', 1628952422309);
    const c = snapshotPlusTrades('XMR-BTC', last.L);
    assert.equal(c.quoteVolume, '0.00222308');
    assert.equal(last.kline.quoteVolume, '0.00222308');
  });

  test('live replay in receive order: the engine closes on the clock and the reconciler matches the x:true klines', async () => {
    const restoreAt = new Map<string, number>([
      ['FTM-USDT', 1628952396573],
      ['SXP-BTC', 1628952398392],
      ['XMR-BTC', 1628952417151],
    ]);
    const restoredL = new Map<string, number>();
    const { clock, engine, events, metrics, setListener } = newEngine(august[0]!.E);
    const reconciler = new Reconciler({ engine, clock, metrics: metrics.candles, log, holdMs: 60_000 });
    const closedAt = new Map<string, number>();
    setListener((e) => {
      if (e.kind === 'close' && e.candle.openTime === MINUTE) closedAt.set(e.candle.symbol, clock.now());
      reconciler.onCandle(e);
    });
    for (const x of august) {
      clock.set(x.E);
      engine.tick(clock.now());
      if (x.kind === 'kline') {
        if (restoreAt.get(x.kline.symbol) === x.E && x.kline.openTime === MINUTE) {
          engine.restore([klineToCandle(x.kline, 'trades')], x.E);
          restoredL.set(x.kline.symbol, x.L);
        }
        reconciler.onKline(x.kline);
      } else {
        const L = restoredL.get(x.trade.symbol);
        if (L === undefined || x.f <= L) continue; // before the snapshot, or already counted in it
        assert.equal(engine.onTrade(x.trade), true);
      }
    }
    const closes = events.filter((e) => e.kind === 'close' && e.candle.openTime === MINUTE).map((e) => e.candle);
    assert.deepEqual(closes.map((c) => c.symbol).sort(), ['FTM-USDT', 'SXP-BTC', 'XMR-BTC']);
    for (const [symbol, at] of closedAt) {
      // closed by the clock once end + grace passed (the first frame after 14:47:02.000 is at 14:47:02.309), not earlier
      assert.ok(at >= MINUTE + 60_000 + 2_000 && at <= 1628952422309, `${symbol} closed at ${at}`);
    }
    assertSameAsExchange(closes.find((c) => c.symbol === 'FTM-USDT'), klineAt(august, 'FTM-USDT', 1628952421387).kline, 'FTMUSDT replay');
    assertSameAsExchange(closes.find((c) => c.symbol === 'SXP-BTC'), klineAt(august, 'SXP-BTC', 1628952422394).kline, 'SXPBTC replay');
    assertSameAsExchange(closes.find((c) => c.symbol === 'XMR-BTC'), klineAt(august, 'XMR-BTC', 1628952422309).kline, 'XMRBTC replay');
    const recon = (result: string) => metricValue(metrics, 'candlestack_reconciliations_total', { result });
    // FTMUSDT's x:true arrived before our close (waited), SXPBTC's after it (compared at once)
    assert.equal(await recon('match'), 2);
    assert.equal(await recon('mismatch'), 0);
    assert.equal(await recon('skipped'), 0);
  });
});
