/**
 * Generates deploy/grafana/dashboards/*.json from the TypeScript specs in ./dashboards. The JSON is committed
 * (Grafana's file provider needs files); test/dashboards.test.ts fails when it differs from this output.
 *
 *   npm run dashboards            # rewrite the JSON files
 *   npm run dashboards -- --check # exit 1 if a committed file is stale
 */
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { buildDashboard, type DashboardSpec } from './builder.js';
import { market } from './dashboards/market.js';
import { pipeline } from './dashboards/pipeline.js';
import { dataQuality } from './dashboards/data-quality.js';
import { circuitBreakers } from './dashboards/circuit-breakers.js';
import { storage } from './dashboards/storage.js';
import { jobs } from './dashboards/jobs.js';
import { host } from './dashboards/host.js';
import { nodejs } from './dashboards/nodejs.js';
import { assistant } from './dashboards/assistant.js';
import { services } from './dashboards/services.js';

/** In the order of the issue: the file name prefix keeps Grafana's folder listing in that order. */
export const DASHBOARD_SPECS: readonly DashboardSpec[] = [market, pipeline, dataQuality, circuitBreakers, storage, jobs, host, nodejs, assistant, services];

/** Relative to the repository root. */
export const DASHBOARDS_DIR = 'deploy/grafana/dashboards';

export function renderDashboards(): Map<string, string> {
  return new Map(
    DASHBOARD_SPECS.map((spec, i) => [`${String(i + 1).padStart(2, '0')}-${spec.uid.replace(/^candlestack-/, '')}.json`, `${JSON.stringify(buildDashboard(spec), null, 2)}\n`]),
  );
}

function main(argv: string[]): number {
  // dist/deploy/grafana/src/generate.js -> the repository root
  const dir = fileURLToPath(new URL(`../../../../${DASHBOARDS_DIR}/`, import.meta.url));
  const wanted = renderDashboards();
  const present = readdirSync(dir).filter((f) => f.endsWith('.json'));
  if (argv.includes('--check')) {
    const stale = [...wanted].filter(([f, text]) => !present.includes(f) || readFileSync(dir + f, 'utf8') !== text).map(([f]) => f);
    const extra = present.filter((f) => !wanted.has(f));
    if (stale.length + extra.length === 0) return 0;
    process.stderr.write(`dashboards out of date: ${[...stale, ...extra].join(', ')}; run npm run dashboards\n`);
    return 1;
  }
  for (const f of present) if (!wanted.has(f)) rmSync(dir + f);
  for (const [f, text] of wanted) writeFileSync(dir + f, text);
  process.stdout.write(`wrote ${wanted.size} dashboards to ${DASHBOARDS_DIR}\n`);
  return 0;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) process.exitCode = main(process.argv.slice(2));
