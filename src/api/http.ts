/** Small HTTP helpers: JSON responses and the JSON error body every API error uses. */
import type { ServerResponse } from 'node:http';

export interface ErrorBody {
  error: { code: string; message: string; parameter?: string };
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store', ...headers });
  res.end(text);
}

export function sendError(res: ServerResponse, status: number, code: string, message: string, parameter?: string): void {
  const body: ErrorBody = { error: parameter === undefined ? { code, message } : { code, message, parameter } };
  sendJson(res, status, body);
}
