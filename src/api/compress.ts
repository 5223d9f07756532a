/**
 * Response compression for the API: a JSON body of 8 KiB or more (a page of candles: 500 candles are about
 * 175 kB of JSON) is sent brotli- or gzip-compressed when the client accepts it, on the zlib thread pool so
 * the event loop keeps serving the pipeline. Small bodies go out as they are.
 */
import type { ServerResponse } from 'node:http';
import { brotliCompress, constants, gzip } from 'node:zlib';

export const COMPRESS_MIN_BYTES = 8 * 1024;
/** Brotli quality for responses compressed per request: fast, and still smaller than gzip's default. */
const BROTLI_QUALITY = 4;

/** Picks br, then gzip, then identity, honouring `;q=0`. */
export function chooseEncoding(acceptEncoding: string | undefined): 'br' | 'gzip' | 'identity' {
  const accepted = new Set<string>();
  for (const part of (acceptEncoding ?? '').split(',')) {
    const [name, ...params] = part.trim().toLowerCase().split(';');
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    if (name && !(q && Number(q.slice(2)) === 0)) accepted.add(name);
  }
  if (accepted.has('br')) return 'br';
  if (accepted.has('gzip')) return 'gzip';
  return 'identity';
}

export function sendMaybeCompressed(res: ServerResponse, status: number, headers: Record<string, string | number>, text: string): void {
  const body = Buffer.from(text);
  const encoding = body.length >= COMPRESS_MIN_BYTES ? chooseEncoding(res.req?.headers['accept-encoding']) : 'identity';
  const plain = () => {
    res.writeHead(status, { ...headers, 'content-length': body.length });
    res.end(body);
  };
  if (encoding === 'identity') return plain();
  const done = (err: Error | null, out: Buffer) => {
    if (err) return plain();
    res.writeHead(status, { ...headers, 'content-encoding': encoding, vary: 'accept-encoding', 'content-length': out.length });
    res.end(out);
  };
  if (encoding === 'br') brotliCompress(body, { params: { [constants.BROTLI_PARAM_QUALITY]: BROTLI_QUALITY, [constants.BROTLI_PARAM_SIZE_HINT]: body.length } }, done);
  else gzip(body, done);
}
