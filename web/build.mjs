// Builds the web dashboard into dist/web/: web/src/main.ts (with lightweight-charts and the CSS) bundled and
// minified by esbuild into content-hashed files under assets/, index.html pointing at them, and brotli + gzip
// variants of every file so the server sends compressed bytes without compressing per request.
// Run by `npm run build` (and so by `npm install` / `npm ci` through `prepare`, and by `npm test`).
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';
import * as esbuild from 'esbuild';

const web = dirname(fileURLToPath(import.meta.url));
const out = join(web, '..', 'dist', 'web');
const assets = join(out, 'assets');
rmSync(out, { recursive: true, force: true });
mkdirSync(assets, { recursive: true });

const result = await esbuild.build({
  entryPoints: { app: join(web, 'src', 'main.ts') },
  bundle: true,
  minify: true,
  format: 'esm',
  target: ['chrome109', 'firefox115', 'safari16'],
  sourcemap: 'linked',
  legalComments: 'eof',
  outdir: assets,
  entryNames: '[name]-[hash]',
  assetNames: '[name]-[hash]',
  metafile: true,
  logLevel: 'warning',
});

const built = Object.keys(result.metafile.outputs).map((p) => '/assets/' + relative(assets, p));
const pick = (ext) => {
  const found = built.find((p) => p.endsWith(ext));
  if (!found) throw new Error(`web build: no ${ext} output`);
  return found;
};

const icon = readFileSync(join(web, 'src', 'favicon.svg'));
const iconName = `favicon-${createHash('sha256').update(icon).digest('hex').slice(0, 8)}.svg`;
writeFileSync(join(assets, iconName), icon);

const page = readFileSync(join(web, 'index.html'), 'utf8')
  .replace('%JS%', pick('.js'))
  .replace('%CSS%', pick('.css'))
  .replace('%FAVICON%', `/assets/${iconName}`);
writeFileSync(join(out, 'index.html'), page);

const files = [join(out, 'index.html'), ...readdirSync(assets).map((f) => join(assets, f))];
const sizes = [];
for (const file of files) {
  const body = readFileSync(file);
  const br = brotliCompressSync(body, { params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_SIZE_HINT]: body.length } });
  writeFileSync(file + '.br', br);
  writeFileSync(file + '.gz', gzipSync(body, { level: 9 }));
  if (!file.endsWith('.map')) sizes.push(`${relative(out, file)} ${kb(statSync(file).size)} (br ${kb(br.length)})`);
}
console.log(`web dashboard -> dist/web: ${sizes.join(', ')}`);

function kb(n) {
  return `${(n / 1024).toFixed(1)} kB`;
}
