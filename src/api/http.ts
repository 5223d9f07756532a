/** Small HTTP helpers: JSON responses and the JSON error body every API error uses. */
import type { ServerResponse } from 'node:http';
import { sendMaybeCompressed } from './compress.js';

export interface ErrorBody {
  error: { code: string; message: string; parameter?: string };
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  // Large bodies (pages of candles) are compressed when the client accepts it; see compress.ts.
  sendMaybeCompressed(res, status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', ...headers }, JSON.stringify(body));
}

export function sendError(res: ServerResponse, status: number, code: string, message: string, parameter?: string): void {
  const body: ErrorBody = { error: parameter === undefined ? { code, message } : { code, message, parameter } };
  sendJson(res, status, body);
}
