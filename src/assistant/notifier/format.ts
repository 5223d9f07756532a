/**
 * The bot's replies as Telegram HTML (parse_mode "HTML"): every value from outside (symbols, reasons, alert
 * labels and annotations, error texts) is escaped, tags never span lines, and a message is cut at a line
 * boundary to stay within Telegram's 4,096 characters (a cut says how many lines were left out).
 */
import type { Decision, HealthSummary, MarketPrice } from './upstream.js';

/** Telegram's limit for a message's text (after entity parsing; the HTML source is never shorter). */
export const MAX_MESSAGE_CHARS = 4096;

export const BUTTON_TEXT = 'What should I do with crypto?';

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' };

/** Escapes text for Telegram's HTML parse mode (&, <, >, and " for attributes). */
export const escapeHtml = (text: string): string => text.replace(/[&<>"]/g, (c) => HTML_ESCAPES[c]!);

export const bold = (text: string): string => `<b>${escapeHtml(text)}</b>`;
export const code = (text: string): string => `<code>${escapeHtml(text)}</code>`;

/**
 * Joins lines (already escaped HTML, each balanced) into one message within `limit` characters: when they do
 * not fit, the last lines that fit are followed by "… N more lines"; a single line longer than the limit is cut
 * (outside any tag: its text part only) so the message is never empty.
 */
export function fitMessage(lines: readonly string[], limit = MAX_MESSAGE_CHARS): string {
  const all = lines.join('\n');
  if (all.length <= limit) return all;
  const out: string[] = [];
  let used = 0;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const more = `… ${lines.length - i} more line${lines.length - i === 1 ? '' : 's'}`;
    const need = used + (out.length > 0 ? 1 : 0) + line.length;
    if (need + 1 + more.length > limit) {
      if (out.length === 0) return cutLine(line, limit);
      out.push(more);
      return out.join('\n');
    }
    out.push(line);
    used = need;
  }
  return out.join('\n');
}

/** A line cut to `limit` characters with its tags dropped (their text kept) and entities left whole. */
function cutLine(line: string, limit: number): string {
  const plain = line.replace(/<[^>]*>/g, '');
  let cut = plain.slice(0, limit - 1);
  const amp = cut.lastIndexOf('&');
  if (amp >= 0 && !cut.slice(amp).includes(';')) cut = cut.slice(0, amp);
  return `${cut}…`;
}

const UTC_TIME = new Intl.DateTimeFormat('en-GB', { timeZone: 'UTC', hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false });
const UTC_DATE = new Intl.DateTimeFormat('en-GB', { timeZone: 'UTC', day: '2-digit', month: 'short' });

/** "12:34:56 UTC", with the date when it is not today's. */
export function formatTime(ms: number, now: number): string {
  const d = new Date(ms);
  const sameDay = new Date(now).toISOString().slice(0, 10) === d.toISOString().slice(0, 10);
  return `${sameDay ? '' : `${UTC_DATE.format(d)} `}${UTC_TIME.format(d)} UTC`;
}

/** "42s ago", "5 min ago", "3 h ago". */
export function formatAge(ms: number, now: number): string {
  const s = Math.max(0, Math.round((now - ms) / 1000));
  if (s < 90) return `${s}s ago`;
  if (s < 90 * 60) return `${Math.round(s / 60)} min ago`;
  if (s < 48 * 3600) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86400)} d ago`;
}

const ACTION_ICON: Record<string, string> = { BUY: '🟢', SELL: '🔴', HOLD: '⚪' };

export const marketName = (m: { exchange: string; symbol: string }): string => `${m.symbol} on ${m.exchange}`;

const priceLine = (p: { price: string | null; asOf: number | null }, now: number): string =>
  p.price === null || p.asOf === null ? escapeHtml('Price: no closed candle yet') : `Price ${code(p.price)} · as of ${escapeHtml(formatTime(p.asOf, now))} (${escapeHtml(formatAge(p.asOf, now))})`;

/** A decision: action, confidence, price and as-of, up to 6 reasons, the strategy. */
export function decisionMessage(d: Decision, now: number): string {
  const lines = [
    `${ACTION_ICON[d.action] ?? ''} ${bold(d.action)} ${escapeHtml(marketName(d))} · confidence ${escapeHtml(`${Math.round(d.confidence * 100)}%`)}`,
    priceLine(d, now),
  ];
  if (d.reasons.length > 0) {
    lines.push('Why:');
    for (const r of d.reasons.slice(0, 6)) lines.push(`• ${escapeHtml(r)}`);
    if (d.reasons.length > 6) lines.push(escapeHtml(`• … and ${d.reasons.length - 6} more`));
  }
  lines.push(`<i>${escapeHtml(`strategy ${d.strategy} · ${d.timeframe} candles · not financial advice`)}</i>`);
  return fitMessage(lines);
}

/** The decision service did not answer: say so, with the market data it can still show (or say that is down too). */
export function decisionUnavailableMessage(market: { exchange: string; symbol: string }, why: string, price: MarketPrice | null, priceWhy: string | null, now: number): string {
  const lines = [`⚠️ ${bold('Decision unavailable')} for ${escapeHtml(marketName(market))}: ${escapeHtml(why)}.`];
  if (price) lines.push(`Market data as of ${escapeHtml(formatTime(price.asOf, now))} (${escapeHtml(formatAge(price.asOf, now))}): ${code(price.price)} (${escapeHtml(price.timeframe)} close).`);
  else lines.push(`Market data unavailable too: ${escapeHtml(priceWhy ?? 'no answer')}.`);
  lines.push('Try again in a minute; /health shows what is down.');
  return fitMessage(lines);
}

export function priceMessage(p: MarketPrice, now: number): string {
  return fitMessage([`${bold(p.symbol)} on ${escapeHtml(p.exchange)}: ${code(p.price)}`, `${escapeHtml(`${p.timeframe} candle ${p.closed ? 'closed' : 'forming'}`)} · as of ${escapeHtml(formatTime(p.asOf, now))} (${escapeHtml(formatAge(p.asOf, now))})`]);
}

export function priceUnavailableMessage(market: { exchange: string; symbol: string }, why: string): string {
  return fitMessage([`⚠️ ${bold('Market data unavailable')} for ${escapeHtml(marketName(market))}: ${escapeHtml(why)}.`, 'Try again in a minute; /health shows what is down.']);
}

export interface FiringAlert {
  alertname: string;
  severity: string;
  summary: string;
  startsAt: number;
}

const STATUS_ICON: Record<string, string> = { ok: '✅', degraded: '🟠', down: '🔴', up: '✅', stale: '🟠' };

/** Feeds, data quality and the alerts firing now. */
export function healthMessage(h: HealthSummary, firing: readonly FiringAlert[], now: number): string {
  const lines: string[] = [];
  if (h.report) {
    lines.push(`${STATUS_ICON[h.report.status] ?? ''} ${bold(`Market data: ${h.report.status}`)}${h.report.reasons.length ? escapeHtml(` (${h.report.reasons.join('; ')})`) : ''}`);
    for (const f of h.report.feeds) {
      const age = f.lastMessageAgeMs === null ? 'no message yet' : `last message ${formatAge(now - f.lastMessageAgeMs, now)}`;
      lines.push(`${STATUS_ICON[f.state] ?? ''} ${escapeHtml(`${f.exchange} ${f.connection}: ${f.state}, ${age}`)}`);
    }
  } else lines.push(`🔴 ${bold('Market data unavailable')}: ${escapeHtml(h.reportError ?? 'no answer')}`);
  if (h.quality) {
    if (h.quality.length === 0) lines.push(escapeHtml('Data quality: no scores yet'));
    for (const q of h.quality) lines.push(`${q.score >= 0.9 ? '✅' : q.score >= 0.5 ? '🟠' : '🔴'} ${escapeHtml(`quality ${q.symbol} on ${q.exchange}: ${Math.round(q.score * 100)}%${q.failing.length ? ` (failing: ${q.failing.join(', ')})` : ''}`)}`);
  } else if (h.qualityError) lines.push(escapeHtml(`Data quality: ${h.qualityError}`));
  lines.push(h.decisionUp ? `✅ ${escapeHtml('Decision service: answering')}` : `🔴 ${escapeHtml(`Decision service: ${h.decisionError ?? 'not answering'}`)}`);
  if (firing.length === 0) lines.push(`✅ ${escapeHtml('No alerts firing')}`);
  else {
    lines.push(`🔥 ${bold(`${firing.length} alert${firing.length === 1 ? '' : 's'} firing`)}`);
    for (const a of firing) lines.push(`• ${bold(a.alertname)} ${escapeHtml(`(${a.severity}, since ${formatAge(a.startsAt, now)})${a.summary ? `: ${a.summary}` : ''}`)}`);
  }
  return fitMessage(lines);
}

export function helpMessage(markets: readonly { exchange: string; symbol: string }[], defaultMarket: { exchange: string; symbol: string } | null): string {
  const watched = markets.map((m) => `${m.exchange}:${m.symbol}`).join(', ');
  return fitMessage([
    bold('candlestack assistant'),
    `${bold(BUTTON_TEXT)}: BUY, SELL or HOLD with its reasons, for ${escapeHtml(defaultMarket ? marketName(defaultMarket) : 'the market you pick')}`,
    `${escapeHtml('/price SYMBOL')}: the last price (e.g. ${escapeHtml('/price BTC-USDT')}, ${escapeHtml('/price okx:ETH-USDT')})`,
    `${escapeHtml('/decision SYMBOL')}: the decision for that market`,
    `${escapeHtml('/health')}: feeds, data quality, the decision service, alerts firing`,
    `${escapeHtml('/subscribe')}, ${escapeHtml('/unsubscribe')}: alerts to this chat, or not`,
    `Markets watched: ${escapeHtml(watched || 'none')}`,
  ]);
}

export interface AlertLine {
  status: 'firing' | 'resolved';
  alertname: string;
  severity: string;
  summary: string;
  /** Labels that tell instances apart (exchange, symbol, instance, ...). */
  detail: string;
}

/** One Alertmanager notification (one group): the new firing alerts, then the resolved ones. */
export function alertsMessage(group: string, alerts: readonly AlertLine[]): string {
  const firing = alerts.filter((a) => a.status === 'firing');
  const resolved = alerts.filter((a) => a.status === 'resolved');
  const head = [firing.length ? `🔥 ${firing.length} firing` : '', resolved.length ? `✅ ${resolved.length} resolved` : ''].filter(Boolean).join(' · ');
  const lines = [`${bold(head)}${group ? ` ${escapeHtml(`(${group})`)}` : ''}`];
  for (const a of [...firing, ...resolved]) {
    lines.push(`${a.status === 'firing' ? '🔥' : '✅'} ${bold(a.alertname)} ${escapeHtml(`[${a.severity}]${a.detail ? ` ${a.detail}` : ''}${a.summary ? `: ${a.summary}` : ''}`)}`);
  }
  return fitMessage(lines);
}
