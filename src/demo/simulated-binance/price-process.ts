/**
 * Deterministic market generator for the simulated Binance exchange: a seeded PRNG and, per symbol, a geometric
 * random walk that switches between quiet spells, normal trading and short bursts. Prices and quantities live on
 * the symbol's tick/step grid as integers in units of 1e-8 and are formatted the way Binance does ("0.00120000").
 */

/** 1e8: Binance prints every price and quantity with 8 decimals, so one unit is 1e-8. */
export const UNITS_PER_ONE = 100_000_000n;

import { mulberry32 } from '../../core/random.js';

/** Formats a non-negative amount in 1e-8 units as Binance does: "43210.12000000". */
export function formatUnits(units: bigint): string {
  const sign = units < 0n ? '-' : '';
  const abs = units < 0n ? -units : units;
  const frac = (abs % UNITS_PER_ONE).toString().padStart(8, '0');
  return `${sign}${abs / UNITS_PER_ONE}.${frac}`;
}

/** Parses a decimal string with at most 8 decimals into 1e-8 units. */
export function parseUnits(value: string): bigint {
  const m = /^(-?)(\d+)(?:\.(\d{0,8}))?$/.exec(value);
  if (!m) throw new Error(`not a decimal with at most 8 decimals: ${value}`);
  const units = BigInt(m[2] ?? '0') * UNITS_PER_ONE + BigInt((m[3] ?? '').padEnd(8, '0'));
  return m[1] === '-' ? -units : units;
}

export interface SymbolSpec {
  readonly symbol: string;
  readonly baseAsset: string;
  readonly quoteAsset: string;
  readonly startPrice: number;
  /** PRICE_FILTER tickSize, 8 decimals. */
  readonly tickSize: string;
  /** LOT_SIZE stepSize, 8 decimals. */
  readonly stepSize: string;
  /** Median trade size in base asset. */
  readonly typicalQty: number;
  /** Share of the overall trade rate. */
  readonly activity: number;
}

const spec = (symbol: string, startPrice: number, tick: string, step: string, typicalQty: number, activity: number): SymbolSpec => ({
  symbol,
  baseAsset: symbol.slice(0, -4),
  quoteAsset: symbol.slice(-4),
  startPrice,
  tickSize: formatUnits(parseUnits(tick)),
  stepSize: formatUnits(parseUnits(step)),
  typicalQty,
  activity,
});

export const DEFAULT_SYMBOL_SPECS: readonly SymbolSpec[] = [
  spec('BTCUSDT', 65_000, '0.01', '0.00001', 0.004, 0.35),
  spec('ETHUSDT', 3_400, '0.01', '0.0001', 0.06, 0.25),
  spec('SOLUSDT', 150, '0.01', '0.001', 1.5, 0.15),
  spec('BNBUSDT', 580, '0.01', '0.001', 0.3, 0.1),
  spec('XRPUSDT', 0.6, '0.0001', '0.1', 350, 0.15),
];

export const DEFAULT_SYMBOLS: readonly string[] = DEFAULT_SYMBOL_SPECS.map((s) => s.symbol);

const USD_LIKE = ['USD', 'USDT', 'USDC', 'FDUSD'];

/** Spec for a symbol: a default one, the same coin against another dollar-like quote, or a generic 100.00-priced market for anything else. */
export function symbolSpec(symbol: string): SymbolSpec {
  const upper = symbol.toUpperCase();
  const known = DEFAULT_SYMBOL_SPECS.find((s) => s.symbol === upper);
  if (known) return known;
  // The same coin against another dollar-like quote (BTCUSD, ETHUSDC) trades at the same price.
  const sameBase = DEFAULT_SYMBOL_SPECS.find((s) => upper.startsWith(s.baseAsset) && USD_LIKE.includes(upper.slice(s.baseAsset.length)));
  if (sameBase) return { ...sameBase, symbol: upper, quoteAsset: upper.slice(sameBase.baseAsset.length) };
  const quote = ['USDT', 'USDC', 'FDUSD', 'BTC', 'ETH', 'BNB'].find((q) => upper.endsWith(q) && upper.length > q.length) ?? 'USDT';
  return { ...spec(upper, 100, '0.01', '0.001', 1, 0.1), baseAsset: upper.slice(0, -quote.length), quoteAsset: quote };
}

export type Regime = 'quiet' | 'normal' | 'burst';

interface RegimeParams {
  readonly rate: number; // trade-rate multiplier
  readonly sigma: number; // per-trade log-return stdev
  readonly meanMs: number; // mean duration
  readonly sizeMul: number; // median trade size multiplier
}

const REGIMES: Readonly<Record<Regime, RegimeParams>> = {
  quiet: { rate: 0.15, sigma: 0.00002, meanMs: 20_000, sizeMul: 0.6 },
  normal: { rate: 1, sigma: 0.00007, meanMs: 40_000, sizeMul: 1 },
  burst: { rate: 6, sigma: 0.00025, meanMs: 4_000, sizeMul: 2 },
};
/** Long-run average of the rate multiplier (normal -> quiet|burst half each -> normal), to keep the mean rate. */
const MEAN_RATE = (40_000 * 1 + 0.5 * 20_000 * 0.15 + 0.5 * 4_000 * 6) / (40_000 + 0.5 * 20_000 + 0.5 * 4_000);

/** One generated trade before the exchange gives it an id and a time. */
export interface TradeDraft {
  readonly symbol: string;
  readonly priceUnits: bigint;
  readonly qtyUnits: bigint;
  readonly price: string;
  readonly qty: string;
  readonly buyerIsMaker: boolean;
}

class SymbolProcess {
  private readonly tickUnits: bigint;
  private readonly stepUnits: bigint;
  private readonly logStart: number;
  private logPrice: number;
  private regime: Regime = 'normal';
  private regimeLeftMs: number;
  private momentum = 0;
  private burstDirection = 1;

  constructor(
    readonly spec: SymbolSpec,
    private readonly rng: () => number,
    /** This symbol's mean trades per second (its share of the market's rate). */
    public tradesPerSecond: number,
  ) {
    this.tickUnits = parseUnits(spec.tickSize);
    this.stepUnits = parseUnits(spec.stepSize);
    this.logStart = Math.log(spec.startPrice);
    this.logPrice = this.logStart;
    this.regimeLeftMs = this.exp(REGIMES.normal.meanMs);
  }

  get currentRegime(): Regime {
    return this.regime;
  }

  lastPriceUnits(): bigint {
    return this.toGrid(Math.exp(this.logPrice), this.tickUnits);
  }

  /** Advances the process by dtMs and returns the trades that happened in that slice. */
  step(dtMs: number): TradeDraft[] {
    this.regimeLeftMs -= dtMs;
    if (this.regimeLeftMs <= 0) this.switchRegime();
    const lambda = (this.tradesPerSecond * REGIMES[this.regime].rate * dtMs) / 1000;
    const n = this.poisson(lambda);
    const out: TradeDraft[] = [];
    for (let i = 0; i < n; i++) out.push(this.trade());
    return out;
  }

  /** One trade right now, whatever the regime (used to create trades a client will miss). */
  trade(): TradeDraft {
    const p = REGIMES[this.regime];
    const bias = this.regime === 'burst' ? 0.4 * this.burstDirection : 0.35 * this.momentum;
    const takerBuy = this.rng() < 0.5 + bias;
    this.momentum = 0.8 * this.momentum + 0.2 * (takerBuy ? 1 : -1);
    const reversion = -0.0005 * (this.logPrice - this.logStart);
    this.logPrice += p.sigma * this.normal() + 0.3 * p.sigma * (takerBuy ? 1 : -1) + reversion;
    const priceUnits = this.lastPriceUnits();
    const size = Math.min(this.spec.typicalQty * p.sizeMul * Math.exp(1.1 * this.normal()), this.spec.typicalQty * 200);
    const qtyUnits = this.toGrid(size, this.stepUnits);
    return {
      symbol: this.spec.symbol,
      priceUnits,
      qtyUnits,
      price: formatUnits(priceUnits),
      qty: formatUnits(qtyUnits),
      buyerIsMaker: !takerBuy,
    };
  }

  private switchRegime(): void {
    if (this.regime !== 'normal') this.regime = 'normal';
    else this.regime = this.rng() < 0.5 ? 'quiet' : 'burst';
    if (this.regime === 'burst') this.burstDirection = this.rng() < 0.5 ? -1 : 1;
    this.regimeLeftMs = this.exp(REGIMES[this.regime].meanMs);
  }

  /** Rounds a positive real to the nearest multiple of `grid` (in 1e-8 units), at least one grid step. */
  private toGrid(value: number, grid: bigint): bigint {
    const steps = Math.max(1, Math.round((value * 1e8) / Number(grid)));
    return BigInt(steps) * grid;
  }

  private exp(mean: number): number {
    return -mean * Math.log(1 - this.rng());
  }

  private normal(): number {
    const u = 1 - this.rng();
    const v = this.rng();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  private poisson(lambda: number): number {
    const limit = Math.exp(-lambda);
    let k = 0;
    let p = this.rng();
    while (p > limit && k < 1000) {
      k++;
      p *= this.rng();
    }
    return k;
  }
}

/** All symbols' processes driven by one seeded PRNG: the same seed and the same calls give the same trades. */
export class MarketGenerator {
  private readonly processes = new Map<string, SymbolProcess>();
  readonly specs: readonly SymbolSpec[];
  private readonly totalActivity: number;

  constructor(symbols: readonly string[], opts: { seed: number; tradesPerSecond: number }) {
    const rng = mulberry32(opts.seed);
    this.specs = symbols.map(symbolSpec);
    this.totalActivity = this.specs.reduce((sum, s) => sum + s.activity, 0) || 1;
    for (const s of this.specs) this.processes.set(s.symbol, new SymbolProcess(s, rng, this.symbolRate(s, opts.tradesPerSecond)));
  }

  /** Changes the average trades per second over all symbols from now on (each symbol keeps its share and regime). */
  setTradesPerSecond(tradesPerSecond: number): void {
    if (!(tradesPerSecond >= 0) || !Number.isFinite(tradesPerSecond)) throw new RangeError(`tradesPerSecond must be a finite number >= 0, got ${tradesPerSecond}`);
    for (const proc of this.processes.values()) proc.tradesPerSecond = this.symbolRate(proc.spec, tradesPerSecond);
  }

  private symbolRate(s: SymbolSpec, tradesPerSecond: number): number {
    return (tradesPerSecond * s.activity) / this.totalActivity / MEAN_RATE;
  }

  /** Advances every symbol by dtMs; trades of symbols for which `active` says false are generated and dropped. */
  tick(dtMs: number, active: (symbol: string) => boolean = () => true): TradeDraft[] {
    const out: TradeDraft[] = [];
    for (const [symbol, proc] of this.processes) {
      const trades = proc.step(dtMs);
      if (active(symbol)) out.push(...trades);
    }
    return out;
  }

  /** n immediate trades of one symbol. */
  forceTrades(symbol: string, n: number): TradeDraft[] {
    const proc = this.process(symbol);
    return Array.from({ length: n }, () => proc.trade());
  }

  lastPriceUnits(symbol: string): bigint {
    return this.process(symbol).lastPriceUnits();
  }

  regime(symbol: string): Regime {
    return this.process(symbol).currentRegime;
  }

  private process(symbol: string): SymbolProcess {
    const proc = this.processes.get(symbol);
    if (!proc) throw new Error(`unknown symbol ${symbol}`);
    return proc;
  }
}
