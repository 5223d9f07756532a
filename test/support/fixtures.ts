/**
 * The recorded data under test/fixtures/<exchange>/ (see each PROVENANCE.md), found the same way whether the
 * tests run compiled (dist/test) or from source (test): by walking up to the directory holding test/fixtures.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function fixturesRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const candidate = join(dir, 'test', 'fixtures');
    if (existsSync(candidate)) return candidate;
    dir = dirname(dir);
  }
  throw new Error(`test/fixtures not found above ${fileURLToPath(import.meta.url)}`);
}

const ROOT = fixturesRoot();

/** The absolute path of test/fixtures/<exchange>/<name>; fails when it does not exist. */
export function fixturePath(exchange: string, name: string): string {
  const path = join(ROOT, exchange, name);
  if (!existsSync(path)) throw new Error(`test/fixtures/${exchange}/${name} not found`);
  return path;
}

/** The text of test/fixtures/<exchange>/<name>. */
export function readFixture(exchange: string, name: string): string {
  return readFileSync(fixturePath(exchange, name), 'utf8');
}

/** The non-blank lines of test/fixtures/<exchange>/<name> (one recorded frame per line). */
export function fixtureLines(exchange: string, name: string): string[] {
  return readFixture(exchange, name)
    .split('\n')
    .filter((l) => l.trim() !== '');
}

/** The names of the files in test/fixtures/<exchange>/ ending with `suffix`, sorted. */
export function fixtureFiles(exchange: string, suffix: string): string[] {
  return readdirSync(join(ROOT, exchange))
    .filter((f) => f.endsWith(suffix))
    .sort();
}
