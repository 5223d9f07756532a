/**
 * The `report` job: a daily summary per configured market for the previous UTC day, read from the store.
 *
 * Per market: the day's open/high/low/close and volume (the stored 1d candle, else aggregated from the
 * smallest configured timeframe that has candles that day), candles stored vs expected per timeframe (a
 * completeness ratio) with the gaps (runs of periods without a closed candle), and, when a quality source is
 * given, the data-quality score now (QualityMonitor.summary()).
 *
 * Alerts are not in the report: the Alertmanager receiver (src/api/alerts-webhook.ts) logs and counts alerts
 * but keeps no history to read them back from.
 *
 * Output: one structured log line per market (`daily report`, the fields of `MarketReport`) and, as the run's
 * result, a plain multi-line text for a chat message (at most REPORT_TEXT_LIMIT characters, nothing escaped).
 */
import { DecimalSum, compareFixed8, fixed8, formatFixed8, parseFixed8 } from '../core/decimal.js';
import type { Clock } from '../core/clock.js';
import type { ExchangeId } from '../core/exchange-id.js';
import { periodStart, sortTimeframes, timeframeMs, type Timeframe } from '../core/timeframe.js';
import type { Candle } from '../core/types.js';
import type { Store } from '../store/store.js';
import type { Job, JobContext } from './job.js';

export const DAY_MS = 86_400_000;
/** Telegram's message limit; the text is cut to whole markets below it. */
export const REPORT_TEXT_LIMIT = 4096;
/** Gap runs listed per timeframe in the text (all are in the log line). */
const GAPS_SHOWN = 3;

export interface Market {
  exchange: ExchangeId;
  symbol: string;
}

/** The current data-quality score of a market, as QualityMonitor.summary() gives it. */
export interface MarketQuality {
  exchange: ExchangeId;
  symbol: string;
  score: number;
  failing: readonly string[];
}

export interface ReportDeps {
  store: Store;
  clock: Clock;
  /** QualityMonitor's current scores (`() => monitor.summary()`); without it the report has no quality line. */
  quality?: () => readonly MarketQuality[];
}

export interface ReportOptions {
  markets: readonly Market[];
  timeframes: readonly Timeframe[];
}

export interface DayRange {
  open: string;
  high: string;
  low: string;
  close: string;
  volume: string;
  /** `1d` (the stored daily candle) or the timeframe aggregated. */
  from: Timeframe;
  /** Candles it was built from (1 for the stored daily candle). */
  candles: number;
}

export interface Gap {
  /** First missing period's open time, epoch ms. */
  from: number;
  /** Missing periods in the run. */
  periods: number;
}

export interface TimeframeCompleteness {
  stored: number;
  expected: number;
  /** stored / expected, 4 decimals. */
  completeness: number;
  missing: number;
  gaps: Gap[];
}

export interface MarketReport {
  exchange: ExchangeId;
  symbol: string;
  /** The day reported, YYYY-MM-DD (UTC). */
  day: string;
  range: DayRange | null;
  candles: Partial<Record<Timeframe, TimeframeCompleteness>>;
  quality: { score: number; failing: readonly string[] } | null;
}

const isoDay = (t: number) => new Date(t).toISOString().slice(0, 10);
const hhmm = (t: number) => new Date(t).toISOString().slice(11, 16);
const round4 = (x: number) => Math.round(x * 10_000) / 10_000;

function completeness(candles: readonly Candle[], dayStart: number, tf: Timeframe): TimeframeCompleteness {
  const ms = timeframeMs(tf);
  const expected = DAY_MS / ms;
  const have = new Set(candles.filter((c) => c.closed).map((c) => c.openTime));
  const gaps: Gap[] = [];
  let run: Gap | null = null;
  for (let t = dayStart; t < dayStart + DAY_MS; t += ms) {
    if (have.has(t)) {
      run = null;
    } else if (run) {
      run.periods++;
    } else {
      run = { from: t, periods: 1 };
      gaps.push(run);
    }
  }
  const stored = have.size;
  return { stored, expected, completeness: round4(stored / expected), missing: expected - stored, gaps };
}

/** open of the first, close of the last, extreme high/low, exact volume sum; null without closed candles. */
function aggregate(candles: readonly Candle[], from: Timeframe): DayRange | null {
  const closed = candles.filter((c) => c.closed);
  if (closed.length === 0) return null;
  const a = fixed8();
  const b = fixed8();
  const extreme = (key: 'high' | 'low', sign: 1 | -1) =>
    closed.reduce((best, c) => {
      if (!parseFixed8(c[key], a) || !parseFixed8(best, b)) return best;
      return sign * compareFixed8(a.int, a.frac, b.int, b.frac) > 0 ? c[key] : best;
    }, closed[0]![key]);
  const volume = new DecimalSum();
  for (const c of closed) if (parseFixed8(c.volume, a)) volume.add(a.int, a.frac);
  return {
    open: closed[0]!.open,
    high: extreme('high', 1),
    low: extreme('low', -1),
    close: closed[closed.length - 1]!.close,
    volume: formatFixed8(volume.int, volume.frac),
    from,
    candles: closed.length,
  };
}

/** Builds one market's report for the UTC day starting at `dayStart`. */
export async function marketReport(deps: ReportDeps, timeframes: readonly Timeframe[], market: Market, dayStart: number, quality: readonly MarketQuality[] | null): Promise<MarketReport> {
  const report: MarketReport = { ...market, day: isoDay(dayStart), range: null, candles: {}, quality: null };
  const byTimeframe = new Map<Timeframe, Candle[]>();
  for (const tf of sortTimeframes([...timeframes])) {
    const ms = timeframeMs(tf);
    const candles = await deps.store.query({ ...market, timeframe: tf, from: dayStart, to: dayStart + DAY_MS - ms, limit: DAY_MS / ms });
    byTimeframe.set(tf, candles);
    report.candles[tf] = completeness(candles, dayStart, tf);
  }
  const daily = byTimeframe.get('1d')?.find((c) => c.closed);
  if (daily) {
    report.range = { open: daily.open, high: daily.high, low: daily.low, close: daily.close, volume: daily.volume, from: '1d', candles: 1 };
  } else {
    for (const [tf, candles] of byTimeframe) {
      report.range = aggregate(candles, tf);
      if (report.range) break;
    }
  }
  const q = quality?.find((x) => x.exchange === market.exchange && x.symbol === market.symbol);
  if (q) report.quality = { score: q.score, failing: q.failing };
  return report;
}

/** Trailing zeros off an 8-decimal figure: 42000.50000000 -> 42000.5. */
const short = (d: string) => (d.includes('.') ? d.replace(/0+$/, '').replace(/\.$/, '') : d);

function change(open: string, close: string): string {
  const o = Number(open);
  const c = Number(close);
  if (!(o > 0) || !Number.isFinite(c)) return '';
  const pct = ((c - o) / o) * 100;
  return ` (${pct >= 0 ? '+' : ''}${pct.toFixed(2)}%)`;
}

/** The market's block of the text. */
export function formatMarket(r: MarketReport): string {
  const lines = [`${r.exchange} ${r.symbol}`];
  if (r.range) {
    const g = r.range;
    const src = g.from === '1d' ? '1d candle' : `from ${g.candles} ${g.from} candles`;
    lines.push(`  range: O ${short(g.open)} H ${short(g.high)} L ${short(g.low)} C ${short(g.close)}${change(g.open, g.close)}, volume ${short(g.volume)} (${src})`);
  } else {
    lines.push('  range: no candles stored for the day');
  }
  const entries = Object.entries(r.candles) as [Timeframe, TimeframeCompleteness][];
  lines.push(`  candles: ${entries.map(([tf, c]) => `${tf} ${c.stored}/${c.expected} (${(c.completeness * 100).toFixed(1)}%)`).join(', ')}`);
  const gapped = entries.filter(([, c]) => c.gaps.length > 0);
  if (gapped.length === 0) lines.push('  gaps: none');
  for (const [tf, c] of gapped) {
    const ms = timeframeMs(tf);
    const shown = c.gaps.slice(0, GAPS_SHOWN).map((g) => (g.periods * ms >= DAY_MS ? 'all day' : g.periods === 1 ? hhmm(g.from) : `${hhmm(g.from)}-${hhmm(g.from + g.periods * ms)}`));
    const more = c.gaps.length > GAPS_SHOWN ? ` +${c.gaps.length - GAPS_SHOWN} more` : '';
    lines.push(`  gaps ${tf}: ${c.gaps.length} (${c.missing} missing): ${shown.join(', ')}${more}`);
  }
  if (r.quality) lines.push(`  quality: ${r.quality.score.toFixed(2)}${r.quality.failing.length > 0 ? ` (failing: ${r.quality.failing.join(', ')})` : ''}`);
  return lines.join('\n');
}

const moreMarkets = (n: number) => `\n\n... ${n} more market${n === 1 ? '' : 's'} (in the log)`;

/** The whole text: a header, then whole market blocks while they fit in `limit` characters. */
export function formatReport(day: string, reports: readonly MarketReport[], limit = REPORT_TEXT_LIMIT): string {
  let text = `candlestack daily report ${day} (UTC)`;
  if (reports.length === 0) return `${text}\nno markets configured`;
  for (let i = 0; i < reports.length; i++) {
    const block = `\n\n${formatMarket(reports[i]!)}`;
    const left = reports.length - i - 1;
    // Room for the "more markets" line stays reserved until the last block.
    if (text.length + block.length + (left > 0 ? moreMarkets(left).length : 0) > limit) return text + moreMarkets(reports.length - i);
    text += block;
  }
  return text;
}

/** The `report` job: the previous UTC day (relative to the clock at the run) for every market. */
export function reportJob(deps: ReportDeps, options: ReportOptions): Job {
  return {
    name: 'report',
    async run(ctx: JobContext): Promise<string> {
      const dayStart = periodStart(deps.clock.now(), DAY_MS) - DAY_MS;
      const quality = deps.quality ? deps.quality() : null;
      const reports: MarketReport[] = [];
      for (const market of options.markets) {
        ctx.signal.throwIfAborted();
        const r = await marketReport(deps, options.timeframes, market, dayStart, quality);
        ctx.log.info({ job: 'report', ...r }, 'daily report');
        reports.push(r);
      }
      return formatReport(isoDay(dayStart), reports);
    },
  };
}

/** The configured markets (every exchange's symbols), for ReportOptions. */
export function configuredMarkets(config: { exchanges: readonly { id: ExchangeId; symbols: readonly string[] }[] }): Market[] {
  return config.exchanges.flatMap((e) => e.symbols.map((symbol) => ({ exchange: e.id, symbol })));
}
