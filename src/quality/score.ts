/**
 * The data-quality score of one exchange/symbol, in [0, 1]:
 *
 *   score = Σ weight(c) · health(c) / Σ weight(c)   over the checks c that ran within the window
 *
 * health(c) is 1 minus the check's decaying failure penalty (check-record.ts). No check ran yet: score 1.
 */
import type { CheckRecord, DecaySettings } from './check-record.js';
import type { QualityCheck } from './checks.js';

export interface ScoreSettings extends DecaySettings {
  weights: Readonly<Record<QualityCheck, number>>;
}

export interface ScorePart {
  check: QualityCheck;
  weight: number;
  health: number;
  /** Whether the check weighs in now (ran within the window). */
  active: boolean;
}

export function qualityScore(records: Iterable<CheckRecord>, now: number, s: ScoreSettings): { score: number; parts: ScorePart[] } {
  let weighted = 0;
  let total = 0;
  const parts: ScorePart[] = [];
  for (const r of records) {
    const weight = s.weights[r.check];
    const active = weight > 0 && r.active(now, s.windowMs);
    const health = r.health(now, s);
    parts.push({ check: r.check, weight, health, active });
    if (!active) continue;
    weighted += weight * health;
    total += weight;
  }
  return { score: total === 0 ? 1 : weighted / total, parts };
}
