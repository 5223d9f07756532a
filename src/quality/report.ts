/** What GET /api/quality returns: the score of an exchange/symbol and, per check, what failed, when and on what. */
import type { QualityCheck } from './checks.js';
import { qualityScore } from './score.js';
import type { QualitySettings } from './settings.js';
import type { SymbolQuality } from './symbol-quality.js';
import type { ExchangeId } from '../core/exchange-id.js';

export interface ReportedFailure {
  at: number;
  time: string;
  anomaly: string;
  message: string;
  values: Record<string, unknown>;
}

export interface CheckReport {
  check: QualityCheck;
  weight: number;
  /** Whether the check weighs in the score now (it ran within the window). */
  active: boolean;
  /** 1 = no recent failure; 0 = just failed. */
  health: number;
  runs: number;
  failures: number;
  lastRun: number | null;
  lastResult: 'pass' | 'fail' | null;
  /** Most recent first, at most 5. */
  recentFailures: ReportedFailure[];
}

export interface QualityReport {
  exchange: ExchangeId;
  symbol: string;
  score: number;
  at: number;
  /** Active checks whose health is below 1: what pulls the score down. */
  failing: QualityCheck[];
  scoring: { formula: string; windowMs: number; halfLifeMs: number };
  checks: CheckReport[];
}

export interface QualitySummary {
  exchange: ExchangeId;
  symbol: string;
  score: number;
  failing: QualityCheck[];
}

const FORMULA = 'score = Σ weight·health / Σ weight over the checks that ran within the window; health = 1 − min(1, Σ 2^(−age/halfLife)) over the failures within the window';

const round = (x: number) => Math.round(x * 10_000) / 10_000;

export function explainSymbol(sq: SymbolQuality, now: number, s: QualitySettings): QualityReport {
  const { score, parts } = qualityScore(sq.records.values(), now, s);
  return {
    exchange: sq.exchange,
    symbol: sq.symbol,
    score: round(score),
    at: now,
    failing: parts.filter((p) => p.active && p.health < 1).map((p) => p.check),
    scoring: { formula: FORMULA, windowMs: s.windowMs, halfLifeMs: s.halfLifeMs },
    checks: parts.map((p) => {
      const r = sq.record(p.check);
      return {
        check: p.check,
        weight: p.weight,
        active: p.active,
        health: round(p.health),
        runs: r.runs,
        failures: r.failures,
        lastRun: Number.isFinite(r.lastRunAt) ? r.lastRunAt : null,
        lastResult: r.lastResult,
        recentFailures: [...r.recent].reverse().map((f) => ({ at: f.at, time: new Date(f.at).toISOString(), anomaly: f.anomaly, message: f.message, values: f.values })),
      };
    }),
  };
}
