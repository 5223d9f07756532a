/**
 * Fault suite, frames (issue 19): every exchange's mapper over mutated recorded and documented frames.
 * Promise: 0 exceptions escape a mapper, 0 trades or klines with impossible values are emitted, every reject has
 * a reason. 5,000 frames per exchange by default; FAULT_FRAMES=100000 (npm run faults:long) for the long run.
 * The figures are printed as test diagnostics (RELIABILITY.md quotes them).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { adapterFor, EXCHANGE_IDS } from '../../src/exchanges/index.js';
import type { EventSink } from '../../src/exchanges/adapter.js';
import type { Kline, Trade } from '../../src/core/types.js';
import { isTimeframe } from '../../src/core/timeframe.js';
import { fixed8, parseFixed8 } from '../../src/core/decimal.js';
import { DOCUMENTED, recordedFrames, sharedCaptureFrames } from './seed-frames.js';
import { MUTATIONS, mutate } from './mutate.js';

const FRAMES = Number(process.env.FAULT_FRAMES ?? 5_000);
/** Receive time of every mutated frame: after all seeds (the newest is from 2026). */
const RECEIVED_AT = Date.UTC(2027, 0, 1);
/** No exchange traded before 2013; no trade may be stamped more than a minute after its receipt. */
const EARLIEST = Date.UTC(2013, 0, 1);
const AHEAD = 60_000;

const CANONICAL = /^[A-Z0-9]{1,20}-[A-Z0-9]{1,20}$/;
const PLAIN = /^\d+(\.\d+)?$/;
const REASON = /^[a-z][a-z_]{2,40}$/;
const scratch = fixed8();

/** An independent reading of "a decimal the store can keep": plain text, finite, and > 0 (or >= 0) at 8 decimals. */
function decimalOk(v: unknown, zeroAllowed: boolean): boolean {
  if (typeof v !== 'string' || !PLAIN.test(v) || !Number.isFinite(Number(v))) return false;
  if (!parseFixed8(v, scratch)) return false;
  return zeroAllowed || scratch.int > 0 || scratch.frac > 0;
}

function impossibleTrade(t: Trade, exchange: string): string | null {
  if (t.exchange !== exchange) return 'exchange';
  if (!CANONICAL.test(t.symbol)) return 'symbol';
  if (!Number.isSafeInteger(t.id) || t.id < 0) return 'id';
  if (!decimalOk(t.price, false)) return 'price';
  if (!decimalOk(t.qty, false)) return 'qty';
  if (t.side !== 'buy' && t.side !== 'sell') return 'side';
  if (!Number.isSafeInteger(t.count) || t.count < 1) return 'count';
  if (!Number.isSafeInteger(t.time) || t.time < EARLIEST || t.time > t.receivedAt + AHEAD) return 'time';
  return null;
}

function impossibleKline(k: Kline, exchange: string): string | null {
  if (k.exchange !== exchange) return 'exchange';
  if (!CANONICAL.test(k.symbol)) return 'symbol';
  if (!isTimeframe(k.timeframe)) return 'timeframe';
  if (!Number.isSafeInteger(k.openTime) || k.openTime < 0) return 'openTime';
  for (const f of ['open', 'high', 'low', 'close'] as const) if (!decimalOk(k[f], false)) return f;
  if (!decimalOk(k.volume, true)) return 'volume';
  if (k.quoteVolume !== null && !decimalOk(k.quoteVolume, true)) return 'quoteVolume';
  if (k.takerBuyVolume !== null && !decimalOk(k.takerBuyVolume, true)) return 'takerBuyVolume';
  return null;
}

describe(`faults: frame fuzzer, ${FRAMES} mutated frames per exchange`, () => {
  for (const exchange of EXCHANGE_IDS) {
    test(`${exchange}: no exception escapes, nothing impossible is emitted, every reject has a reason`, (t) => {
      const mapper = adapterFor(exchange).mapper;
      const seeds = [...DOCUMENTED[exchange], ...recordedFrames(exchange), ...sharedCaptureFrames(exchange)];
      assert.ok(seeds.length >= 4, `${exchange} has seed frames`);
      const figures = { frames: 0, trades: 0, klines: 0, rejects: 0, exceptions: 0, impossible: 0, reconnects: 0 };
      const reasons = new Map<string, number>();
      const problems: string[] = [];
      const sink: EventSink = {
        trade(tr) {
          figures.trades++;
          const bad = impossibleTrade(tr, exchange);
          if (bad) (figures.impossible++, problems.push(`trade ${bad}: ${JSON.stringify(tr)}`));
        },
        kline(k) {
          figures.klines++;
          const bad = impossibleKline(k, exchange);
          if (bad) (figures.impossible++, problems.push(`kline ${bad}: ${JSON.stringify(k)}`));
        },
        reject(reason, detail) {
          figures.rejects++;
          reasons.set(reason, (reasons.get(reason) ?? 0) + 1);
          if (!REASON.test(reason) || typeof detail !== 'string') problems.push(`reject without a reason: ${JSON.stringify({ reason, detail })}`);
        },
        reconnect() {
          figures.reconnects++;
        },
      };
      const started = performance.now();
      const mutation = fc.record({
        seed: fc.nat({ max: seeds.length - 1 }),
        steps: fc.array(fc.tuple(fc.constantFrom(...MUTATIONS), fc.nat(), fc.nat()), { minLength: 1, maxLength: 3 }),
      });
      fc.assert(
        fc.property(mutation, ({ seed, steps }) => {
          let frame = seeds[seed]!;
          for (const [kind, a, b] of steps) frame = mutate(frame, kind, a, b);
          figures.frames++;
          try {
            mapper.map(frame, RECEIVED_AT, sink);
          } catch (err) {
            figures.exceptions++;
            problems.push(`exception ${(err as Error).name}: ${(err as Error).message} on ${frame.slice(0, 200)}`);
          }
          return problems.length === 0;
        }),
        { numRuns: FRAMES, seed: Number(process.env.FAULT_SEED ?? 19), endOnFailure: true },
      );
      const ms = performance.now() - started;
      const byReason = [...reasons].sort((x, y) => y[1] - x[1]).map(([r, n]) => `${r}=${n}`).join(' ');
      t.diagnostic(
        `faults.frames ${exchange}: ${figures.frames} frames (${seeds.length} seeds) in ${ms.toFixed(0)} ms: ` +
          `exceptions=${figures.exceptions} impossible=${figures.impossible} trades=${figures.trades} klines=${figures.klines} rejects=${figures.rejects} [${byReason}]`,
      );
      assert.deepEqual(problems, []);
      assert.equal(figures.exceptions, 0);
      assert.equal(figures.impossible, 0);
    });
  }
});
