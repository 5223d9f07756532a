/**
 * The test broker itself: librdkafka's mock cluster speaks the Kafka protocol to an independent client
 * (kcat), and a broker taken down and brought back keeps its data. The Kafka bus tests build on it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { KafkaMockCluster, kafkaMockUnavailable, kcatUnavailable } from './support/kafka/mock-cluster.js';
import { skipUnlessAvailable } from './support/harness.js';

function kcat(args: string[], input?: string) {
  return spawnSync('kcat', args, { input, encoding: 'utf8', timeout: 20_000 });
}

test('mock cluster: 3 brokers, kcat produces and consumes keyed JSON, a broker down and up loses nothing', { timeout: 60_000 }, async (t) => {
  const reason = skipUnlessAvailable(!kafkaMockUnavailable() && !kcatUnavailable(), kafkaMockUnavailable() ?? kcatUnavailable() ?? '');
  if (reason) return t.skip(reason);
  const cluster = await KafkaMockCluster.start(3);
  try {
    assert.equal(cluster.brokers.length, 3);
    await cluster.createTopic('binance_kline', 6);
    const meta = kcat(['-b', cluster.bootstrap, '-L', '-t', 'binance_kline']);
    assert.match(meta.stdout, /3 brokers/);
    assert.match(meta.stdout, /topic "binance_kline" with 6 partitions/);
    const produce = (lines: string[]) => kcat(['-b', cluster.bootstrap, '-t', 'binance_kline', '-P', '-K', '|'], lines.join('\n') + '\n');
    assert.equal(produce(['BTCUSDT|{"n":1}', 'ETHUSDT|{"n":2}']).status, 0);
    await cluster.brokerDown(2);
    await cluster.brokerUp(2);
    assert.equal(produce(['BTCUSDT|{"n":3}']).status, 0);
    const consumed = kcat(['-b', cluster.bootstrap, '-t', 'binance_kline', '-C', '-o', 'beginning', '-e', '-q', '-f', '%k %s\n']);
    assert.equal(consumed.status, 0, consumed.stderr);
    assert.deepEqual(consumed.stdout.trim().split('\n').sort(), ['BTCUSDT {"n":1}', 'BTCUSDT {"n":3}', 'ETHUSDT {"n":2}']);
  } finally {
    await cluster.stop();
  }
});
