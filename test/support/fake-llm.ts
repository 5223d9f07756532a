/**
 * A fake OpenAI-compatible chat-completions server for the `llm` strategy's tests (test only): it speaks the
 * real wire format (`POST /v1/chat/completions` with a JSON body, `Authorization: Bearer KEY`, the answer in
 * `choices[0].message.content`, errors as `{"error":{"message","type"}}`) and answers what the test sets.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SeenRequest {
  path: string;
  authorization: string | undefined;
  body: { model?: string; messages?: { role: string; content: string }[]; temperature?: number };
}

export type FakeAnswer = { content: string } | { status: number } | { delayMs: number; content: string } | { hangUp: true };

export class FakeLlmServer {
  readonly seen: SeenRequest[] = [];
  answer: FakeAnswer = { content: '{"action":"HOLD","confidence":0.5,"reason":"default"}' };
  private server: Server | null = null;

  async start(): Promise<string> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/v1`;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }

  private async handle(req: IncomingMessage, res: import('node:http').ServerResponse): Promise<void> {
    let raw = '';
    for await (const chunk of req) raw += String(chunk);
    const body = JSON.parse(raw || '{}') as SeenRequest['body'];
    this.seen.push({ path: req.url ?? '', authorization: req.headers.authorization, body });
    const a = this.answer;
    if (req.method !== 'POST' || req.url !== '/v1/chat/completions') {
      res.writeHead(404, { 'content-type': 'application/json' });
      return void res.end(JSON.stringify({ error: { message: 'not found', type: 'invalid_request_error' } }));
    }
    if ('hangUp' in a) return void req.socket.destroy();
    if ('status' in a) {
      res.writeHead(a.status, { 'content-type': 'application/json' });
      return void res.end(JSON.stringify({ error: { message: 'fake failure', type: 'server_error' } }));
    }
    if ('delayMs' in a) await new Promise((r) => setTimeout(r, a.delayMs));
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({
        id: `chatcmpl-${this.seen.length}`,
        object: 'chat.completion',
        created: Math.floor(Date.now() / 1000),
        model: body.model,
        choices: [{ index: 0, message: { role: 'assistant', content: a.content }, finish_reason: 'stop' }],
        usage: { prompt_tokens: 100, completion_tokens: 20, total_tokens: 120 },
      }),
    );
  }
}
