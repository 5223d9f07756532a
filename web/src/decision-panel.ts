/**
 * The assistant on the market view: what the decision service advises for the market on screen (action,
 * confidence, strategy, reasons, from GET /api/decision) and how often its advice on this market came true
 * (hit ratio per scoring horizon over the recent decisions of GET /api/decisions, same strategy). Reloaded
 * when the market changes, when a candle of the shown series closes (a decision changes only then), and
 * every REFRESH_MS. When the API answers an error (a `serve` instance has no decision service; a decide
 * outage in run/demo) the panel says "decision service unavailable" with the server's message, and retries.
 */
import { getJson, marketPath, sameKey } from './api.js';
import type { CandleEvent, DecisionResponse, DecisionsResponse, MarketKey } from './api.js';
import { byId, h } from './dom.js';
import * as fmt from './format.js';

export const REFRESH_MS = 30_000;
/** Closes of a fast series (1s) do not reload the panel more often than this. */
const MIN_GAP_MS = 5_000;
/** Decisions the hit ratio is computed over. */
export const RATIO_DECISIONS = 200;

export type PanelState = 'loading' | 'ready' | 'unavailable';

/** hits / scored per horizon (scored: decisions with a hit or a miss; no_data outcomes are left out). */
export type HitRatios = Record<string, { hits: number; scored: number }>;

export interface PanelSnapshot {
  state: PanelState;
  key: MarketKey | null;
  decision: DecisionResponse | null;
  ratios: HitRatios | null;
  error: string | null;
}

export function hitRatios(r: DecisionsResponse): HitRatios {
  const out: HitRatios = Object.fromEntries(r.horizons.map((hz) => [hz, { hits: 0, scored: 0 }]));
  for (const d of r.decisions) {
    for (const [hz, o] of Object.entries(d.outcomes)) {
      if (o.hit === null) continue;
      const t = (out[hz] ??= { hits: 0, scored: 0 });
      t.scored++;
      if (o.hit) t.hits++;
    }
  }
  return out;
}

export class DecisionPanel {
  private readonly el = byId('decision');
  private key: MarketKey | null = null;
  /** Bumped on every market switch: answers for an older selection are dropped. */
  private generation = 0;
  private timer: number | null = null;
  private loadedAt = 0;
  private inFlight = false;
  private snap: PanelSnapshot = { state: 'loading', key: null, decision: null, ratios: null, error: null };

  show(key: MarketKey): void {
    if (sameKey(key, this.key)) return;
    this.key = key;
    this.generation++;
    this.snap = { state: 'loading', key, decision: null, ratios: null, error: null };
    this.render(this.snap);
    if (this.timer !== null) window.clearInterval(this.timer);
    this.timer = window.setInterval(() => void this.load(), REFRESH_MS);
    void this.load();
  }

  /** A closed candle of the shown series: the decision service now decides on it. */
  onCandle(e: CandleEvent): void {
    const k = this.key;
    if (e.kind !== 'close' || !k || e.candle.exchange !== k.exchange || e.candle.symbol !== k.symbol || e.candle.timeframe !== k.timeframe) return;
    if (Date.now() - this.loadedAt >= MIN_GAP_MS) void this.load();
  }

  /** For tests: what the panel shows. */
  state(): PanelSnapshot {
    return this.snap;
  }

  private async load(): Promise<void> {
    const key = this.key;
    if (!key || this.inFlight) return;
    const gen = this.generation;
    this.inFlight = true;
    this.loadedAt = Date.now();
    try {
      let next: PanelSnapshot;
      try {
        const decision = await getJson<DecisionResponse>(marketPath('/api/decision', key));
        let ratios: HitRatios | null = null;
        let error: string | null = null;
        try {
          ratios = hitRatios(await getJson<DecisionsResponse>(marketPath('/api/decisions', key, { strategy: decision.strategy, limit: RATIO_DECISIONS })));
        } catch (err) {
          error = (err as Error).message;
        }
        next = { state: 'ready', key, decision, ratios, error };
      } catch (err) {
        next = { state: 'unavailable', key, decision: null, ratios: null, error: (err as Error).message };
      }
      if (gen !== this.generation) return;
      this.snap = next;
      this.render(next);
    } finally {
      this.inFlight = false;
    }
  }

  private render(s: PanelSnapshot): void {
    const el = this.el;
    el.dataset.state = s.state;
    el.dataset.market = s.key ? `${s.key.exchange}/${s.key.symbol}/${s.key.timeframe}` : '';
    el.dataset.action = s.decision?.action ?? '';
    const title = h('h2', { id: 'decision-title' }, 'Assistant');
    if (s.state === 'loading') {
      el.replaceChildren(h('div', { class: 'decision-head' }, title, h('span', { class: 'muted' }, 'asking the decision service…')));
      return;
    }
    if (s.state === 'unavailable' || !s.decision) {
      el.replaceChildren(
        h('div', { class: 'decision-head' }, title, h('span', { class: 'action', 'data-action': 'none' }, 'decision service unavailable')),
        h('p', { class: 'muted small decision-error' }, `${s.error ?? 'no answer'} · retrying every ${REFRESH_MS / 1000} s`),
      );
      return;
    }
    const d = s.decision;
    const asOf = d.asOf === null ? 'no closed candle yet' : `as of ${fmt.utcTime(d.asOf)}${d.price === null ? '' : ` at ${d.price.toLocaleString('en-US', { maximumFractionDigits: 8 })}`}`;
    el.replaceChildren(
      h('div', { class: 'decision-head' },
        title,
        h('span', { class: 'action', 'data-action': d.action }, d.action),
        h('span', { class: 'muted' }, `confidence ${Math.round(d.confidence * 100)}% · strategy ${d.strategy} · ${asOf}`),
      ),
      h('ul', { class: 'reasons', 'aria-label': 'Reasons' }, ...d.reasons.map((r) => h('li', {}, r))),
      this.ratioLine(s),
    );
  }

  private ratioLine(s: PanelSnapshot): HTMLElement {
    const label = h('span', { class: 'muted' }, `Hit ratio of ${s.decision!.strategy} on this market (last ${RATIO_DECISIONS} decisions): `);
    if (!s.ratios) return h('p', { class: 'small hit-ratio' }, label, h('span', { class: 'decision-error' }, `unavailable (${s.error ?? 'no answer'})`));
    const parts = Object.entries(s.ratios).map(([hz, t]) =>
      h('span', { class: 'ratio', 'data-horizon': hz, 'data-hits': t.hits, 'data-scored': t.scored }, t.scored === 0 ? `${hz} not scored yet` : `${hz} ${fmt.percent0((t.hits / t.scored) * 100)} of ${fmt.count(t.scored)}`),
    );
    return h('p', { class: 'small hit-ratio' }, label, ...parts.flatMap((p, i) => (i === 0 ? [p] : [' · ', p])));
  }
}
