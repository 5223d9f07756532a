/** The recorded real Binance frames of test/fixtures/binance (see PROVENANCE.md), raw and mapped. */
import assert from 'node:assert/strict';
import { binanceMapper } from '../../src/exchanges/binance/mapper.js';
import type { Kline, Trade } from '../../src/core/types.js';
import { fixtureLines } from './fixtures.js';

export const APRIL = 'ws-combined-2021-04-04T2004Z-btc-eth-dot-aggtrade-kline.jsonl';
export const AUGUST = 'ws-combined-2021-08-14T1446Z-aggtrade-kline.jsonl';

/** One recorded frame: the raw line, its event time, and what binanceMapper makes of it. */
export type Frame = { line: string; E: number } & ({ kind: 'trade'; trade: Trade; f: number; l: number } | { kind: 'kline'; kline: Kline; f: number; L: number });

export function loadFrames(file: string): Frame[] {
  return fixtureLines('binance', file).map((line) => {
    const d = (JSON.parse(line) as { data: Record<string, any> }).data;
    const E = d.E as number;
    const got: Frame[] = [];
    binanceMapper.map(line, E, {
      trade: (trade) => got.push({ line, E, kind: 'trade', trade, f: d.f, l: d.l }),
      kline: (kline) => got.push({ line, E, kind: 'kline', kline, f: d.k.f, L: d.k.L }),
      reject: (reason, detail) => assert.fail(`fixture frame rejected (${reason}: ${detail}): ${line}`),
      reconnect: () => assert.fail('unexpected reconnect'),
    });
    assert.equal(got.length, 1, line);
    return got[0]!;
  });
}

export const tradesOf = (frames: readonly Frame[]): Trade[] => frames.flatMap((x) => (x.kind === 'trade' ? [x.trade] : []));
