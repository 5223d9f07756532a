/** Number, price, time and age formatting for the dashboard (en-US grouping, UTC times). */

const grouped = new Intl.NumberFormat('en-US');

export function count(n: number): string {
  return grouped.format(n);
}

/** Decimal places a decimal string really uses ("43251.37000000" -> 2). */
export function decimalsOf(s: string): number {
  const dot = s.indexOf('.');
  if (dot < 0) return 0;
  let end = s.length;
  while (end > dot + 1 && s[end - 1] === '0') end--;
  return end - dot - 1;
}

export function price(n: number, precision: number): string {
  return n.toLocaleString('en-US', { minimumFractionDigits: precision, maximumFractionDigits: precision });
}

export function signed(n: number, precision: number): string {
  return (n > 0 ? '+' : n < 0 ? '−' : '') + price(Math.abs(n), precision);
}

export function percent(n: number): string {
  return (n > 0 ? '+' : n < 0 ? '−' : '') + Math.abs(n).toFixed(2) + '%';
}

/** "57%": a share without sign or decimals. */
export function percent0(n: number): string {
  return `${Math.round(n)}%`;
}

export function rate(perSecond: number | null): string {
  if (perSecond === null) return '—';
  return perSecond >= 100 ? count(Math.round(perSecond)) : perSecond.toFixed(1);
}

/** "0.4 s", "12 s", "3 min 05 s", "2 h 05 min", "3 d 4 h". */
export function age(ms: number | null): string {
  if (ms === null) return 'never';
  const s = Math.max(0, ms) / 1000;
  if (s < 10) return `${s.toFixed(1)} s`;
  if (s < 60) return `${Math.floor(s)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${String(Math.floor(s % 60)).padStart(2, '0')} s`;
  const hrs = Math.floor(m / 60);
  if (hrs < 24) return `${hrs} h ${String(m % 60).padStart(2, '0')} min`;
  return `${Math.floor(hrs / 24)} d ${hrs % 24} h`;
}

export function duration(seconds: number): string {
  return age(seconds * 1000).replace(/\.\d s$/, ' s');
}

/** "14:03" (UTC), with the date when it is not today. */
export function utcTime(ms: number, now = Date.now()): string {
  const d = new Date(ms);
  const hm = d.toISOString().slice(11, 16);
  return d.toISOString().slice(0, 10) === new Date(now).toISOString().slice(0, 10) ? `${hm} UTC` : `${d.toISOString().slice(0, 10)} ${hm} UTC`;
}
