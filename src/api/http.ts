/** Small HTTP helpers: JSON responses, the JSON error body every API error uses, listening and closing. */
import type { Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
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

/** Listens on host:port; resolves with the bound port (the chosen one with port 0). A taken port is a clear error. */
export function listen(server: Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) =>
      reject(err.code === 'EADDRINUSE' ? new Error(`port ${port} on ${host} is already in use; choose another with --port`, { cause: err }) : err);
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

/** Closes a server now: open keep-alive connections are ended, not waited for. */
export async function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}
