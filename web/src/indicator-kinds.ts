/**
 * What the dashboard can draw of the indicators a server computes, recognised by name (`sma20`, `ema20`,
 * `bb20_2`, `vwap` on the price pane; `rsi14`, `macd12_26_9` each in a small pane underneath). Other names
 * (e.g. `atr14`) are not drawn.
 */

export type Placement = 'price' | 'lower';

export interface LineSpec {
  /** The field of the indicator's values (`value`, `upper`, `macd`, `histogram`, ...). */
  key: string;
  color: string;
  style: 'solid' | 'dashed' | 'histogram';
}

export interface OverlaySpec {
  name: string;
  label: string;
  placement: Placement;
  lines: LineSpec[];
  /** Shown until the user says otherwise. */
  defaultOn: boolean;
  /** Fixed value range of a lower pane (RSI: 0 to 100) and its guide lines. */
  range?: { min: number; max: number; guides: number[] };
}

const PALETTE = ['#f0b90b', '#5b9cf6', '#c792ea', '#ff8a65', '#4dd0e1', '#9ccc65', '#f06292'];
export const HISTOGRAM_UP = 'rgba(38, 166, 154, 0.5)';
export const HISTOGRAM_DOWN = 'rgba(239, 83, 80, 0.5)';

/** The overlay for indicator `name` (the `index`-th of the server's list, which picks its colour), or null. */
export function overlaySpec(name: string, index: number): OverlaySpec | null {
  const color = PALETTE[index % PALETTE.length]!;
  let m: RegExpMatchArray | null;
  if ((m = name.match(/^(sma|ema)(\d+)$/))) {
    return { name, label: `${m[1]!.toUpperCase()} ${m[2]}`, placement: 'price', lines: [{ key: 'value', color, style: 'solid' }], defaultOn: true };
  }
  if ((m = name.match(/^bb(\d+)_(\d+(?:\.\d+)?)$/))) {
    const lines: LineSpec[] = [
      { key: 'upper', color, style: 'solid' },
      { key: 'middle', color, style: 'dashed' },
      { key: 'lower', color, style: 'solid' },
    ];
    return { name, label: `BB ${m[1]} ${m[2]}σ`, placement: 'price', lines, defaultOn: true };
  }
  if (name === 'vwap') return { name, label: 'VWAP', placement: 'price', lines: [{ key: 'value', color, style: 'dashed' }], defaultOn: false };
  if ((m = name.match(/^rsi(\d+)$/))) {
    return { name, label: `RSI ${m[1]}`, placement: 'lower', lines: [{ key: 'value', color, style: 'solid' }], defaultOn: true, range: { min: 0, max: 100, guides: [30, 70] } };
  }
  if ((m = name.match(/^macd(\d+)_(\d+)_(\d+)$/))) {
    const lines: LineSpec[] = [
      { key: 'histogram', color: HISTOGRAM_UP, style: 'histogram' },
      { key: 'macd', color, style: 'solid' },
      { key: 'signal', color: '#ff8a65', style: 'solid' },
    ];
    return { name, label: `MACD ${m[1]} ${m[2]} ${m[3]}`, placement: 'lower', lines, defaultOn: false };
  }
  return null;
}

/** The overlays of a server's indicator list, in its order. */
export function overlaySpecs(names: readonly string[]): OverlaySpec[] {
  return names.map(overlaySpec).filter((s): s is OverlaySpec => s !== null);
}
