/** PostgreSQL store URLs: parsing, validation with field-named errors (config too), and password redaction. No server needed. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parsePostgresUrl, redactUrl } from '../src/store/postgres-url.js';
import { loadConfig } from '../src/config/config.js';
import { ConfigError } from '../src/core/errors.js';
import { openStore } from '../src/store/open.js';
import { log, testMetrics } from './support/harness.js';

describe('parsePostgresUrl', () => {
  test('takes candlestack parameters out of the URL and passes the rest to node-postgres', () => {
    const t = parsePostgresUrl('postgres://app:pw@db.internal:6543/market?schema=candles_v1&pool_size=4&sslmode=require&options=-c%20statement_timeout%3D5000');
    assert.equal(t.connectionString, 'postgres://app:pw@db.internal:6543/market?sslmode=require');
    assert.equal(t.schema, 'candles_v1');
    assert.equal(t.poolSize, 4);
    assert.equal(t.options, '-c statement_timeout=5000 -c search_path=candles_v1');
    assert.equal(t.display, 'postgres://app:***@db.internal:6543/market?schema=candles_v1&pool_size=4&sslmode=require&options=-c%20statement_timeout%3D5000');
  });

  test('defaults: the server default schema, a pool of 10, no startup options; postgresql:// works too', () => {
    const t = parsePostgresUrl('postgresql://postgres@127.0.0.1/test');
    assert.deepEqual(t, { connectionString: 'postgresql://postgres@127.0.0.1/test', schema: null, poolSize: 10, options: undefined, display: 'postgresql://postgres@127.0.0.1/test' });
  });

  test('bad URLs are ConfigErrors naming the field and never showing the password', () => {
    const cases: [string, RegExp][] = [
      ['postgres://u:hunter2@host', /^store: expected postgres:\/\/USER.*with a database name, got "postgres:\/\/u:\*\*\*@host"$/],
      ['postgres:///db', /^store: expected postgres:\/\/USER/],
      ['postgres://u:hunter2@h/db?schema=Bad-Name', /^store schema: expected a schema name of lower-case letters/],
      ['postgres://u:hunter2@h/db?pool_size=abc', /^store pool_size: expected a whole number from 1 to 1000, got "abc"$/],
      ['postgres://u:hunter2@h/db?pool_size=1001', /^store pool_size: /],
    ];
    for (const [url, message] of cases) {
      assert.throws(() => parsePostgresUrl(url), (e: unknown) => e instanceof ConfigError && message.test(e.message) && !e.message.includes('hunter2'), url);
    }
  });
});

describe('redactUrl', () => {
  test('replaces the password only', () => {
    assert.equal(redactUrl('postgres://app:s3cret@h:5432/db?x=1'), 'postgres://app:***@h:5432/db?x=1');
    assert.equal(redactUrl('postgres://app@h/db'), 'postgres://app@h/db');
    assert.equal(redactUrl('postgres://app:p%40ss%2Fw@h/db'), 'postgres://app:***@h/db');
    assert.equal(redactUrl('sqlite:data/candlestack.db'), 'sqlite:data/candlestack.db');
  });

  test('an unparseable URL is redacted up to its last @', () => {
    const out = redactUrl('postgres://app:pa@ss:word@h:99999/db');
    assert.ok(!out.includes('pa@ss') && !out.includes('word'), out);
    assert.match(out, /^postgres:\/\/app:\*\*\*@/);
  });
});

describe('config and openStore', () => {
  test('--store, CANDLESTACK_STORE and store.url accept postgres URLs and reject bad ones by field', () => {
    const url = 'postgres://candle@127.0.0.1:5432/market?schema=prod';
    assert.equal(loadConfig({ env: {}, flags: { store: url } }).store.url, url);
    assert.equal(loadConfig({ env: { CANDLESTACK_STORE: 'postgresql://candle@db/market' }, flags: {} }).store.url, 'postgresql://candle@db/market');
    assert.throws(() => loadConfig({ env: {}, flags: { store: 'postgres://candle:pw@db/market?pool_size=0' } }), { name: 'ConfigError', message: /^--store pool_size: expected a whole number/ });
    assert.throws(() => loadConfig({ env: { CANDLESTACK_STORE: 'postgres://db' }, flags: {} }), { name: 'ConfigError', message: /^CANDLESTACK_STORE: expected postgres:\/\// });
    assert.throws(() => loadConfig({ env: {}, flags: { store: 'mysql://candle:pw@db/market' } }), (e: unknown) => e instanceof ConfigError && /^--store: expected sqlite:PATH .* or postgres:\/\//.test(e.message) && !e.message.includes(':pw@'));
  });

  test('openStore opens SQLite by URL and refuses an unknown scheme', async () => {
    const store = await openStore('sqlite::memory:', () => 1, { metrics: testMetrics().store, log });
    assert.equal(store.kind, 'sqlite');
    await store.close();
    await assert.rejects(openStore('redis://x', () => 1, { metrics: testMetrics().store, log }), { name: 'ConfigError' });
  });
});
