/**
 * The web dashboard's static files, served by the ApiServer: the page at `/` and its assets under
 * `/assets/`. The files come from `npm run build` (web/build.mjs -> dist/web/): asset names carry a content
 * hash, so they are cached for a year (`immutable`); the page itself is revalidated on every load (ETag).
 * Brotli and gzip variants are precompressed at build time and chosen by Accept-Encoding.
 *
 * Everything is read into memory once, at startup, and requests are answered from that map: a request path
 * never reaches the file system, so there is nothing to traverse. Nothing is fetched from anywhere else:
 * the dashboard works without internet.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from '../telemetry/logger.js';
import { chooseEncoding } from './compress.js';
import { sendError } from './http.js';

/** dist/web/ next to dist/src/ (this file runs as dist/src/api/web-assets.js). */
export const DEFAULT_WEB_DIR = fileURLToPath(new URL('../../web/', import.meta.url));

/** URL prefix of the hashed assets; also the route label used in the HTTP metrics. */
export const ASSETS_PREFIX = '/assets/';

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.map': 'application/json; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.woff2': 'font/woff2',
};

/**
 * The page may load scripts, styles, images and connections (fetch, the /ws WebSocket) from its own origin
 * only: a stray CDN reference fails loudly in the browser console (and so in the Chromium tests).
 */
export const PAGE_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

interface StaticFile {
  readonly body: Buffer;
  readonly br: Buffer | null;
  readonly gzip: Buffer | null;
  readonly headers: Readonly<Record<string, string>>;
  readonly etag: string;
}

export class WebAssets {
  private readonly files = new Map<string, StaticFile>();
  private readonly page: StaticFile | null;

  private constructor(readonly dir: string) {
    const index = join(dir, 'index.html');
    this.page = existsSync(index)
      ? load(index, {
          'cache-control': 'no-cache',
          'content-security-policy': PAGE_CSP,
          'referrer-policy': 'no-referrer',
          'x-frame-options': 'DENY',
        })
      : null;
    const assets = join(dir, 'assets');
    if (!existsSync(assets)) return;
    for (const name of readdirSync(assets)) {
      if (name.endsWith('.br') || name.endsWith('.gz')) continue;
      this.files.set(ASSETS_PREFIX + name, load(join(assets, name), { 'cache-control': 'public, max-age=31536000, immutable' }));
    }
  }

  /** Reads the built dashboard from `dir`; if it is missing, says how to build it (the API still works). */
  static load(dir: string, log: Logger): WebAssets {
    const web = new WebAssets(dir);
    if (!web.available) log.warn({ dir }, 'dashboard assets not built: `/` answers 503 until `npm run build` has run');
    return web;
  }

  get available(): boolean {
    return this.page !== null;
  }

  /** Names of the served assets (`/assets/app-<hash>.js`, ...). */
  get assetPaths(): string[] {
    return [...this.files.keys()];
  }

  /** The dashboard page (the `/` route). */
  servePage = (_url: URL, res: ServerResponse, req: IncomingMessage): void => {
    if (!this.page) return sendError(res, 503, 'dashboard_not_built', 'the dashboard assets are not built; run `npm run build` (the JSON API is listed at /api)');
    send(req, res, this.page);
  };

  /** A handler for an `/assets/...` path, or undefined when there is no such asset. */
  assetHandler(pathname: string): ((url: URL, res: ServerResponse, req: IncomingMessage) => void) | undefined {
    const file = this.files.get(pathname);
    return file ? (_url, res, req) => send(req, res, file) : undefined;
  }
}

function load(path: string, headers: Record<string, string>): StaticFile {
  const body = readFileSync(path);
  const sibling = (ext: string) => (existsSync(path + ext) ? readFileSync(path + ext) : null);
  return {
    body,
    br: sibling('.br'),
    gzip: sibling('.gz'),
    etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`,
    headers: {
      'content-type': CONTENT_TYPES[extname(path)] ?? 'application/octet-stream',
      'x-content-type-options': 'nosniff',
      ...headers,
    },
  };
}

function send(req: IncomingMessage, res: ServerResponse, file: StaticFile): void {
  const encoding = chooseEncoding(req.headers['accept-encoding']);
  const variant = encoding === 'br' ? file.br : encoding === 'gzip' ? file.gzip : null;
  // The ETag names the encoded representation, as RFC 9110 asks.
  const etag = variant ? `${file.etag.slice(0, -1)}-${encoding}"` : file.etag;
  const headers: Record<string, string | number> = { ...file.headers, etag, vary: 'accept-encoding' };
  const inm = req.headers['if-none-match'];
  if (inm !== undefined && inm.split(',').some((t) => t.trim().replace(/^W\//, '') === etag)) {
    res.writeHead(304, headers);
    res.end();
    return;
  }
  const body = variant ?? file.body;
  if (variant) headers['content-encoding'] = encoding;
  headers['content-length'] = body.length;
  res.writeHead(200, headers);
  res.end(body);
}
