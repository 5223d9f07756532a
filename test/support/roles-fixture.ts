/** A Kafka mock cluster with the default topics (6 partitions), a simulated Binance and a config for the roles. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultConfig, type Config } from '../../src/config/config.js';
import { DEFAULT_KAFKA_TOPICS } from '../../src/bus/kafka-codec.js';
import { SimulatedBinance, type SimTrade } from '../../src/demo/simulated-binance/server.js';
import { KafkaMockCluster } from './kafka/mock-cluster.js';

export const SYMBOLS = ['BTC-USDT', 'ETH-USDT', 'SOL-USDT', 'BNB-USDT'];

/** Partitions of every topic the fixture creates. */
export const TOPIC_PARTITIONS = 6;

/** `symbols`: what the simulated Binance trades and the roles follow (default SYMBOLS). */
export async function kafkaFixture(seed: number, { symbols = SYMBOLS }: { symbols?: readonly string[] } = {}) {
  const cluster = await KafkaMockCluster.start(3);
  for (const name of Object.values(DEFAULT_KAFKA_TOPICS)) await cluster.createTopic(name, TOPIC_PARTITIONS);
  const sim = new SimulatedBinance({ seed, tradesPerSecond: 120, symbols: [...symbols] });
  const trades: SimTrade[] = [];
  sim.onTrade((t) => trades.push(t));
  const { wsBaseUrl, restBaseUrl } = await sim.start();
  const dir = mkdtempSync(join(tmpdir(), 'candlestack-roles-'));
  const base = defaultConfig();
  const config: Config = {
    ...base,
    exchanges: [{ ...base.exchanges[0]!, symbols: [...symbols], wsUrl: wsBaseUrl, restUrl: restBaseUrl }],
    timeframes: ['1s', '1m'],
    candles: { graceMs: 300, latePolicy: 'drop', tickMs: 50 },
    feed: { staleAfterMs: 5_000, backoffInitialMs: 100, backoffMaxMs: 500 },
    bus: `kafka://${cluster.bootstrap}`,
    store: { url: `sqlite:${join(dir, 'roles.db')}`, flushMs: 100 },
    http: { host: '127.0.0.1', port: 0 },
  };
  return {
    cluster,
    sim,
    symbols,
    trades,
    dir,
    config,
    async cleanup() {
      await sim.stop();
      await cluster.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

