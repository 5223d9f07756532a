/**
 * The dashboard's one WebSocket to /ws: subscribes to the market on screen, forwards its candle and indicator events,
 * and reconnects with capped backoff when the connection drops (then asks the view to resync, since
 * events sent while it was down are gone).
 */
import type { CandleEvent, IndicatorEvent, MarketKey } from './api.js';

export type LiveStatus = 'connecting' | 'live' | 'reconnecting' | 'refused';

export interface LiveFeedOptions {
  onEvent: (event: CandleEvent) => void;
  /** Indicator values of the subscribed series (forming updates, closes, corrections). */
  onIndicator: (event: IndicatorEvent) => void;
  onStatus: (status: LiveStatus, detail: string) => void;
  /** The connection came back after a drop: candles may have been missed. */
  onResync: () => void;
}

const BACKOFF_MS = [500, 1_000, 2_000, 5_000, 10_000];

export class LiveFeed {
  private ws: WebSocket | null = null;
  private key: MarketKey | null = null;
  private attempts = 0;
  private everOpened = false;

  constructor(private readonly o: LiveFeedOptions) {}

  start(): void {
    this.connect();
  }

  /** Switches the subscription to `key` (unsubscribing the previous one). */
  setSubscription(key: MarketKey): void {
    const previous = this.key;
    this.key = key;
    if (this.ws?.readyState !== WebSocket.OPEN) return;
    if (previous) this.send({ op: 'unsubscribe', ...previous });
    this.send({ op: 'subscribe', ...key });
  }

  private connect(): void {
    const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`;
    this.o.onStatus(this.everOpened ? 'reconnecting' : 'connecting', url);
    const ws = new WebSocket(url);
    this.ws = ws;
    ws.onopen = () => {
      const resync = this.everOpened;
      this.everOpened = true;
      this.attempts = 0;
      if (this.key) this.send({ op: 'subscribe', ...this.key });
      if (resync) this.o.onResync();
    };
    ws.onmessage = (m) => this.onMessage(typeof m.data === 'string' ? m.data : '');
    ws.onclose = () => {
      if (this.ws !== ws) return;
      this.ws = null;
      const wait = BACKOFF_MS[Math.min(this.attempts++, BACKOFF_MS.length - 1)]!;
      this.o.onStatus('reconnecting', `live connection lost; retrying in ${wait / 1000} s`);
      window.setTimeout(() => this.connect(), wait);
    };
  }

  private onMessage(text: string): void {
    let msg: { type?: string; error?: { message?: string } } & Partial<CandleEvent>;
    try {
      msg = JSON.parse(text);
    } catch {
      return;
    }
    if (msg.type === 'candle') this.o.onEvent(msg as CandleEvent);
    else if (msg.type === 'indicator') this.o.onIndicator(msg as unknown as IndicatorEvent);
    else if (msg.type === 'subscribed') this.o.onStatus('live', 'receiving live candles');
    else if (msg.type === 'error') this.o.onStatus('refused', `live subscription refused: ${msg.error?.message ?? 'unknown error'}`);
  }

  private send(msg: unknown): void {
    this.ws?.send(JSON.stringify(msg));
  }
}
