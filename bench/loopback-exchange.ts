/**
 * A minimal local exchange for latency benchmarks: a WebSocket server speaking Binance's combined-stream
 * protocol (`/stream?streams=...`, SUBSCRIBE acknowledgements, `{"stream","data"}` trade frames) and a REST
 * endpoint answering every klines request with no klines. `send` stamps each frame's send time by sequence
 * number; the trade's price is the sequence number, so a candle's close says which trade it reflects.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { WebSocketServer, WebSocket } from 'ws';

export class LoopbackExchange {
  private readonly http: Server;
  private readonly wss: WebSocketServer;
  private readonly sockets = new Set<WebSocket>();
  /** Trade ids are consecutive per symbol, as on Binance (a jump is a gap the collector backfills). */
  private readonly nextId = new Map<string, number>();
  private seq = 0;
  /** performance.now() at which trade `seq` was handed to the socket. */
  readonly sentAt: number[] = [];

  constructor() {
    this.http = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('[]');
    });
    this.wss = new WebSocketServer({ server: this.http });
    this.wss.on('connection', (ws) => {
      this.sockets.add(ws);
      ws.on('message', (data) => {
        const m = JSON.parse(data.toString()) as { id?: number };
        ws.send(JSON.stringify({ result: null, id: m.id ?? null }));
      });
      ws.on('close', () => this.sockets.delete(ws));
    });
  }

  async start(): Promise<{ wsBaseUrl: string; restBaseUrl: string }> {
    await new Promise<void>((resolve) => this.http.listen(0, '127.0.0.1', resolve));
    const { port } = this.http.address() as AddressInfo;
    return { wsBaseUrl: `ws://127.0.0.1:${port}`, restBaseUrl: `http://127.0.0.1:${port}` };
  }

  get connected(): number {
    return this.sockets.size;
  }

  /** Sends one trade for `symbol` (canonical, BTC-USDT); returns its sequence number (also its price). */
  send(symbol: string, now: number): number {
    const seq = ++this.seq;
    const id = this.nextId.get(symbol) ?? 1;
    this.nextId.set(symbol, id + 1);
    const native = symbol.replace('-', '');
    const frame = `{"stream":"${native.toLowerCase()}@trade","data":{"e":"trade","E":${now},"s":"${native}","t":${id},"p":"${seq}.00000000","q":"0.01000000","T":${now},"m":false,"M":true}}`;
    this.sentAt[seq] = performance.now();
    for (const ws of this.sockets) ws.send(frame);
    return seq;
  }

  async stop(): Promise<void> {
    for (const ws of this.sockets) ws.terminate();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
    await new Promise<void>((resolve) => this.http.close(() => resolve()));
  }
}
