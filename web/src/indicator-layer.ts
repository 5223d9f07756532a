/**
 * The indicator values of the market on screen, aligned with its candles by openTime: history from
 * /api/indicators over the loaded candle range (older pages as they load), live values from /ws (forming
 * values move, a close settles them, corrections replace). Only indicators the server lists are offered;
 * a toggle button per overlay, remembered in localStorage.
 */
import { getJson, indicatorsPath } from './api.js';
import type { IndicatorEvent, IndicatorPoint, IndicatorsResponse, MarketKey } from './api.js';
import { byId, h } from './dom.js';
import { overlaySpecs, type OverlaySpec } from './indicator-kinds.js';
import { IndicatorOverlays, type HeldPoint } from './indicator-overlays.js';

const STORAGE_KEY = 'candlestack.overlays';
/** At most this many candles' values per request (the API's cap). */
const MAX_POINTS = 5000;

export class IndicatorLayer {
  private points: HeldPoint[] = [];
  private key: MarketKey | null = null;
  private generation = 0;
  private loading = true;
  private buffered: IndicatorEvent[] = [];
  private specs: OverlaySpec[] = [];
  private names = '';
  private redraw: number | null = null;
  /** The toggles, when localStorage refuses to keep them (private mode, quota). */
  private memory: Record<string, boolean> | null = null;

  constructor(
    private readonly overlays: IndicatorOverlays,
    private readonly report: (message: string | null) => void,
  ) {}

  /** A new market: drops everything held; values arrive with `loadFrom` once its candles are in. */
  reset(key: MarketKey): void {
    this.key = key;
    this.generation++;
    this.points = [];
    this.buffered = [];
    this.loading = true;
    this.overlays.setPoints(this.points);
  }

  /** Loads the stored values from `from` (the first loaded candle; null: no candles yet) on; then live events apply. */
  async loadFrom(from: number | null): Promise<void> {
    await this.load(from === null ? {} : { from, limit: MAX_POINTS }, () => {
      this.loading = false;
      for (const e of this.buffered) this.apply(e, false);
      this.buffered = [];
    });
  }

  /** Older candles were prepended: their values, `from` up to (not including) `before`. */
  loadOlder(from: number, before: number): Promise<void> {
    return this.load({ from, to: before - 1, limit: MAX_POINTS });
  }

  onEvent(e: IndicatorEvent): void {
    const k = this.key;
    if (!k || e.exchange !== k.exchange || e.symbol !== k.symbol || e.timeframe !== k.timeframe) return;
    if (this.loading) this.buffered.push(e);
    else this.apply(e, true);
  }

  setPrecision(precision: number): void {
    this.overlays.setPrecision(precision);
  }

  /** For tests: the server's indicator names, the overlays on offer and which are on. */
  state(): { loading: boolean; names: string[]; offered: string[]; enabled: string[] } {
    return { loading: this.loading, names: this.names ? this.names.split(',') : [], offered: this.specs.map((s) => s.name), enabled: [...this.enabled()] };
  }

  /** After the live connection came back: the values stored from `from` (the last candle held) on. */
  resync(from: number): Promise<void> {
    if (this.loading) return Promise.resolve();
    return this.load({ from, limit: MAX_POINTS }, undefined, true);
  }

  private async load(range: Record<string, number>, then?: () => void, override = false): Promise<void> {
    const key = this.key;
    if (!key) return;
    const gen = this.generation;
    try {
      const r = await getJson<IndicatorsResponse>(indicatorsPath(key, range));
      if (gen !== this.generation) return;
      this.offer(r.names);
      this.merge(r.indicators, override);
    } catch (err) {
      if (gen === this.generation) this.report((err as Error).message);
    }
    if (gen !== this.generation) return;
    then?.();
    this.overlays.setPoints(this.points);
  }

  /**
   * Stored values are closed, so they replace forming ones; a live close or correction already held wins,
   * except after a reconnect (`override`), when the store knows of corrections the page missed.
   */
  private merge(stored: readonly IndicatorPoint[], override: boolean): void {
    for (const s of stored) {
      const point: HeldPoint = { openTime: s.openTime, closed: true, values: s.values };
      const i = indexOf(this.points, s.openTime);
      if (i < 0) this.points.splice(~i, 0, point);
      else if (override || !this.points[i]!.closed) this.points[i] = point;
    }
  }

  private apply(e: IndicatorEvent, draw: boolean): void {
    const list = this.points;
    const point: HeldPoint = { openTime: e.openTime, closed: e.kind !== 'update', values: e.values };
    const last = list[list.length - 1];
    let newest = false;
    if (!last || e.openTime > last.openTime) {
      list.push(point);
      newest = true;
    } else {
      const i = indexOf(list, e.openTime);
      if (i < 0) {
        if (e.openTime < list[0]!.openTime) return; // before the loaded history
        list.splice(~i, 0, point);
      } else {
        if (list[i]!.closed && e.kind === 'update') return; // a late forming value never undoes a close
        list[i] = point;
        newest = i === list.length - 1;
      }
    }
    if (!draw) return;
    if (newest) this.overlays.updateLatest(list);
    // An older value changed (a correction re-publishes every value after it): redraw once per burst.
    else this.redraw ??= window.setTimeout(() => {
      this.redraw = null;
      this.overlays.setPoints(this.points);
    }, 50);
  }

  /** The server's indicator list: (re)builds the toggle buttons and the overlays when it changes. */
  private offer(names: readonly string[]): void {
    if (names.join(',') === this.names) return;
    this.names = names.join(',');
    this.specs = overlaySpecs(names);
    const bar = byId('overlays');
    bar.hidden = this.specs.length === 0;
    bar.replaceChildren(
      h('span', { class: 'muted small' }, 'Indicators'),
      ...this.specs.map((spec) => {
        const swatch = h('span', { class: 'swatch', 'aria-hidden': 'true' });
        swatch.style.background = spec.lines.find((l) => l.style !== 'histogram')?.color ?? '';
        const button = h('button', { type: 'button', id: `overlay-${spec.name}`, class: 'toggle', 'data-indicator': spec.name, 'aria-pressed': 'false' }, swatch, spec.label);
        button.addEventListener('click', () => this.toggle(spec.name));
        return button;
      }),
    );
    this.render();
  }

  private toggle(name: string): void {
    const on = this.enabled();
    if (on.has(name)) on.delete(name);
    else on.add(name);
    const saved = this.saved();
    for (const s of this.specs) saved[s.name] = on.has(s.name);
    try {
      localStorage.setItem(STORAGE_KEY, JSON.stringify(saved));
    } catch {
      this.memory = saved; // the choice lasts for this page only
    }
    this.render();
  }

  private render(): void {
    const on = this.enabled();
    for (const b of byId('overlays').querySelectorAll<HTMLButtonElement>('button[data-indicator]')) b.setAttribute('aria-pressed', String(on.has(b.dataset.indicator ?? '')));
    this.overlays.configure(this.specs, on);
  }

  /** Saved toggles by indicator name (names not saved follow their default). */
  private saved(): Record<string, boolean> {
    if (this.memory) return { ...this.memory };
    try {
      const v: unknown = JSON.parse(localStorage.getItem(STORAGE_KEY) ?? '{}');
      return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, boolean>) : {};
    } catch {
      return {};
    }
  }

  private enabled(): Set<string> {
    const saved = this.saved();
    return new Set(this.specs.filter((s) => (typeof saved[s.name] === 'boolean' ? saved[s.name] : s.defaultOn)).map((s) => s.name));
  }
}


/** Binary search by openTime: the index, or ~insertionPoint when absent. */
function indexOf(list: readonly HeldPoint[], openTime: number): number {
  let lo = 0;
  let hi = list.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const t = list[mid]!.openTime;
    if (t === openTime) return mid;
    if (t < openTime) lo = mid + 1;
    else hi = mid - 1;
  }
  return ~lo;
}
