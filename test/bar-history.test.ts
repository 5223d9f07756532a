/** BarHistory (the indicator engine's per-series candle history) behaves as the array of Bars it replaces. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { BarHistory, formatScaled8 } from '../src/pipeline/indicators/bar-history.js';
import { toScaled } from '../src/pipeline/indicators/exact-window.js';
import type { Bar } from '../src/pipeline/indicators/indicator.js';
import { mulberry32 } from '../src/core/random.js';


const TEXTS = ['43210.12000000', '43210.12', '0.00000001', '5', '-12.5', '1e-7', '.5', '0.1234567891', '123456789012.5', String(0.1 + 0.2)];

describe('BarHistory', () => {
  test('formatScaled8', () => {
    assert.equal(formatScaled8(4_321_012_000_000), '43210.12000000');
    assert.equal(formatScaled8(1), '0.00000001');
    assert.equal(formatScaled8(-1_250_000_000), '-12.50000000');
    assert.equal(formatScaled8(0), '0.00000000');
  });

  for (const max of [0, 1, 5, 37]) {
    test(`push / insert / set / shift equal an array of Bars (max ${max}); close texts keep their exact value`, () => {
      const r = mulberry32(max + 1);
      const h = new BarHistory(max);
      const model: Bar[] = [];
      for (let n = 0; n < 3000; n++) {
        const text = TEXTS[Math.floor(r() * TEXTS.length)]!;
        const bar: Bar = { openTime: 1_700_000_000_000 + n * 60_000, open: r() * 100, high: r() * 100, low: r() * 100, close: Number(text), volume: r() * 10, closeText: text };
        const k = r();
        if (k < 0.6 || model.length === 0) {
          h.push(bar);
          model.push(bar);
        } else if (k < 0.8) {
          const i = Math.floor(r() * (model.length + 1));
          h.insert(i, bar);
          model.splice(i, 0, bar);
        } else {
          const i = Math.floor(r() * model.length);
          h.set(i, bar);
          model[i] = bar;
        }
        if (model.length > max) {
          h.shift();
          model.shift();
        }
        assert.equal(h.length, model.length);
        for (let i = 0; i < model.length; i++) {
          const got = h.at(i);
          const want = model[i]!;
          assert.equal(h.openTimeAt(i), want.openTime);
          assert.deepEqual({ ...got, closeText: '' }, { ...want, closeText: '' });
          assert.equal(toScaled(got.closeText, got.close), toScaled(want.closeText, want.close), `close text ${got.closeText} for ${want.closeText}`);
        }
      }
    });
  }
});
