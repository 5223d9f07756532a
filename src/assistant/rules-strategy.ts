/**
 * The `rules` strategy (default): deterministic rules over the features, in this order (ARCHITECTURE.md,
 * "Decision service"):
 *
 *   1. warming_up         rsi14, macdHist, ret15, vol20 or atrRatio still null            -> HOLD 0.5
 *   2. volatility_high    atrRatio > 3%: the market moves too much for a signal           -> HOLD 0.5
 *   3. oversold           rsi14 <= 30 and bbPctB < 0 (close under the lower band)         -> BUY
 *      overbought         rsi14 >= 70 and bbPctB > 1 (close over the upper band)          -> SELL
 *   4. trend_up           ret15 > 0 and macdHist > 0 and rsi14 < 70                       -> BUY
 *      trend_down         ret15 < 0 and macdHist < 0 and rsi14 > 30                       -> SELL
 *   5. no_clear_signal    anything else                                                   -> HOLD 0.5
 *
 * Confidence of a BUY/SELL: z = |ret15| / (vol20 × √15), the 15-period move in standard deviations of the
 * 1-period return; confidence = min(0.95, 0.5 + 0.15 z). The volume z-score and taker-buy ratio, when
 * present, add a reason each when they agree with the action (volume_confirms, takers_confirm).
 */
import type { Strategy, StrategyInput, Verdict } from './strategy.js';

export const MAX_ATR_RATIO = 0.03;

const pct = (x: number): string => `${x >= 0 ? '+' : ''}${(x * 100).toFixed(2)}%`;

export class RulesStrategy implements Strategy {
  readonly name = 'rules';

  decide(input: StrategyInput): Verdict {
    const f = input.features;
    const { rsi14, macdHist, ret15, vol20, atrRatio, bbPctB } = f;
    if (rsi14 === null || macdHist === null || ret15 === null || vol20 === null || atrRatio === null) return { action: 'HOLD', confidence: 0.5, reasons: ['warming_up: not enough closed candles for every feature yet'] };
    if (atrRatio > MAX_ATR_RATIO) return { action: 'HOLD', confidence: 0.5, reasons: [`volatility_high: ATR is ${pct(atrRatio)} of the price (above ${pct(MAX_ATR_RATIO)})`] };
    const z = vol20 > 0 ? Math.abs(ret15) / (vol20 * Math.sqrt(15)) : 0;
    const confidence = Math.min(0.95, 0.5 + 0.15 * z);
    const rsi = `rsi ${rsi14.toFixed(1)}`;
    let verdict: Verdict | null = null;
    if (rsi14 <= 30 && bbPctB !== null && bbPctB < 0) verdict = { action: 'BUY', confidence, reasons: [`oversold: ${rsi}, close under the lower Bollinger band`] };
    else if (rsi14 >= 70 && bbPctB !== null && bbPctB > 1) verdict = { action: 'SELL', confidence, reasons: [`overbought: ${rsi}, close over the upper Bollinger band`] };
    else if (ret15 > 0 && macdHist > 0 && rsi14 < 70) verdict = { action: 'BUY', confidence, reasons: [`trend_up: 15-period return ${pct(ret15)}`, `momentum_up: MACD histogram ${macdHist.toPrecision(3)} > 0`, `not_overbought: ${rsi} < 70`] };
    else if (ret15 < 0 && macdHist < 0 && rsi14 > 30) verdict = { action: 'SELL', confidence, reasons: [`trend_down: 15-period return ${pct(ret15)}`, `momentum_down: MACD histogram ${macdHist.toPrecision(3)} < 0`, `not_oversold: ${rsi} > 30`] };
    if (!verdict) return { action: 'HOLD', confidence: 0.5, reasons: [`no_clear_signal: 15-period return ${pct(ret15)}, ${rsi}, MACD histogram ${macdHist.toPrecision(3)}`] };
    const sign = verdict.action === 'BUY' ? 1 : -1;
    if (f.volumeZ20 !== null && f.volumeZ20 > 1 && f.ret1 !== null && Math.sign(f.ret1) === sign) verdict.reasons.push(`volume_confirms: volume ${f.volumeZ20.toFixed(1)} σ above its 20-period mean`);
    if (f.takerBuyRatio !== null && (sign > 0 ? f.takerBuyRatio > 0.55 : f.takerBuyRatio < 0.45)) verdict.reasons.push(`takers_confirm: taker-buy ratio ${f.takerBuyRatio.toFixed(2)}`);
    return verdict;
  }
}
