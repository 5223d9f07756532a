/**
 * Health view: per-feed state (green up, amber stale, red down) with the last-message age ticking live,
 * messages/s, reconnects and trade-id gaps; per-symbol trade rates; reconciliation, store, bus, backfill and
 * rejected frames. Levels (ok / warn / critical) come from /api/health; rates are derived here from the
 * counters of successive samples, and ages tick between samples from the time each sample arrived.
 */
import type { Health, Level } from './api.js';
import { byId, h } from './dom.js';
import * as fmt from './format.js';

const LEVEL_TEXT: Record<Level | 'unknown', string> = { ok: 'ok', warn: 'warning', critical: 'critical', unknown: 'unknown' };
/** Rates are computed over the samples of about this long. */
const RATE_WINDOW_MS = 5_000;

interface Sample {
  at: number;
  counts: Map<string, number>;
}

export function pill(level: Level | 'unknown', text: string = LEVEL_TEXT[level]): HTMLElement {
  return h('span', { class: 'pill', 'data-level': level }, text);
}

export class HealthView {
  private readonly samples: Sample[] = [];
  private receivedAt = 0;

  /** Renders a fresh /api/health answer received at `at` (performance.now()). */
  update(health: Health, at: number): void {
    this.receivedAt = at;
    const counts = new Map<string, number>();
    for (const f of health.feeds) counts.set(`feed:${f.exchange}#${f.connection}`, f.messagesReceived);
    for (const s of health.symbols) counts.set(`symbol:${s.exchange}:${s.symbol}`, s.tradesReceived);
    this.samples.push({ at, counts });
    while (this.samples.length > 2 && this.samples[1]!.at <= at - RATE_WINDOW_MS) this.samples.shift();

    byId('health-error').hidden = true;
    byId('health-summary').replaceChildren(
      pill(health.level, `${health.status}`),
      h('span', {}, `up ${fmt.duration(health.uptimeSeconds)}`),
      h('span', { class: 'muted' }, `feeds go amber after ${fmt.duration(health.staleAfterMs / 2000)} without a message, and are recycled after ${fmt.duration(health.staleAfterMs / 1000)}`),
    );
    byId('feeds').replaceChildren(...health.feeds.map((f) => {
      const id = `feed:${f.exchange}#${f.connection}`;
      return h(
        'tr',
        { 'data-feed': `${f.exchange}#${f.connection}`, 'data-state': f.state, 'data-level': f.level },
        h('th', { scope: 'row' }, `${f.exchange} #${f.connection}`, h('div', { class: 'muted small' }, `${f.symbols.length} symbols · ${f.streams} streams`)),
        h('td', {}, pill(f.level, f.state)),
        h('td', {}, f.status),
        h('td', { class: 'num', 'data-age': f.lastMessageAgeMs ?? '' }, fmt.age(f.lastMessageAgeMs)),
        h('td', { class: 'num', 'data-rate': '' }, fmt.rate(this.rate(id))),
        h('td', { class: 'num' }, fmt.count(f.reconnects)),
        h('td', { class: 'num' }, fmt.count(f.tradeIdGaps)),
        h('td', { class: 'error-text' }, f.lastError ?? ''),
      );
    }));
    byId('symbols').replaceChildren(...health.symbols.map((s) =>
      h(
        'tr',
        { 'data-symbol': `${s.exchange}:${s.symbol}`, 'data-level': s.level },
        h('th', { scope: 'row' }, s.symbol, h('span', { class: 'muted' }, ` ${s.exchange}`)),
        h('td', {}, pill(s.level, s.level === 'ok' ? 'trading' : 'quiet')),
        h('td', { class: 'num' }, fmt.rate(this.rate(`symbol:${s.exchange}:${s.symbol}`))),
        h('td', { class: 'num', 'data-age': s.lastTradeAgeMs ?? '' }, fmt.age(s.lastTradeAgeMs)),
        h('td', { class: 'num' }, fmt.count(s.tradeIdGaps)),
        h('td', { class: 'num' }, fmt.count(s.tradeIdsMissing)),
      ),
    ));
    const r = health.reconciliation;
    const fields = Object.entries(r.mismatchedFields);
    card('card-reconciliation', r.level, [
      ['matched', `${fmt.count(r.total.match)}`],
      ['mismatched', fmt.count(r.total.mismatch)],
      [`mismatched, last ${fmt.duration(r.windowSeconds)}`, fmt.count(r.recent.mismatch)],
      ['skipped (gap, backfilled)', fmt.count(r.total.skipped)],
      ['unmatched', fmt.count(r.total.unmatched)],
      ['fields that differed', fields.length ? fields.map(([k, v]) => `${k} ${fmt.count(v)}`).join(', ') : 'none'],
    ]);
    const st = health.store;
    card('card-store', st.level, [
      ['store', `${st.kind}, ${st.open ? 'open' : 'closed'}`],
      ['rows written', fmt.count(st.rowsWritten)],
      ['queue', fmt.count(st.queueDepth)],
      ['errors', fmt.count(st.errors)],
      ['errors, recent', fmt.count(st.recentErrors)],
    ]);
    const b = health.bus;
    card('card-bus', b.level, [
      ['bus', b.kind],
      ['published', fmt.count(b.published)],
      ['delivered', fmt.count(b.consumed)],
      ['handler errors', fmt.count(b.handlerErrors)],
      ['handler errors, recent', fmt.count(b.recentHandlerErrors)],
    ]);
    const bf = health.backfill;
    const rejected = Object.entries(health.rejected.reasons);
    card('card-repair', bf.level, [
      ['gaps waiting to be backfilled', fmt.count(bf.pending)],
      ['candles backfilled', fmt.count(bf.candles)],
      ['backfill runs ok', fmt.count(bf.runsOk)],
      ['backfill runs failed (recent)', `${fmt.count(bf.runsFailed)} (${fmt.count(bf.recentFailures)})`],
      ['frames rejected', rejected.length ? rejected.map(([k, v]) => `${k} ${fmt.count(v)}`).join(', ') : '0'],
    ]);
  }

  /** The API did not answer: everything shown is stale. */
  unreachable(message: string): void {
    const el = byId('health-error');
    el.hidden = false;
    el.textContent = `${message}. Showing the last known state; retrying.`;
    byId('health-summary').firstElementChild?.setAttribute('data-level', 'critical');
  }

  /** Moves every age forward by the time since the last sample. */
  tick(now: number): void {
    const elapsed = now - this.receivedAt;
    for (const el of document.querySelectorAll<HTMLElement>('#health-view [data-age]')) {
      const base = el.dataset.age;
      if (base !== undefined && base !== '') el.textContent = fmt.age(Number(base) + elapsed);
    }
  }

  private rate(id: string): number | null {
    const first = this.samples[0];
    const last = this.samples[this.samples.length - 1];
    if (!first || !last || first === last) return null;
    const a = first.counts.get(id);
    const b = last.counts.get(id);
    if (a === undefined || b === undefined) return null;
    return (Math.max(0, b - a) * 1000) / (last.at - first.at);
  }
}

function card(id: string, level: Level, rows: [string, string][]): void {
  const el = byId(id);
  el.dataset.level = level;
  el.querySelector('.card-level')?.replaceChildren(pill(level));
  el.querySelector('dl')?.replaceChildren(...rows.flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
}
