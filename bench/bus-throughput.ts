/**
 * Bench 4: messages/s through the in-process bus (MemoryBus: synchronous fan-out, hot-path counters), with one
 * and with four subscribers on the same topic, against a plain loop calling the same subscribers directly
 * (the ceiling: what the bus costs on top of a function call). Kafka is measured on its own branch.
 */
import { MemoryBus } from '../src/bus/memory.js';
import { createMetrics, createRegistry } from '../src/telemetry/metrics.js';
import { silentLogger } from '../src/telemetry/logger.js';
import { makeWorkload, opsPerSecond } from './workload.js';

export interface BusResult {
  subscribers: number;
  bus: number;
  direct: number;
  ratio: number;
}

export function benchMemoryBus(count = 200_000, minMs = 800): BusResult[] {
  const { trades } = makeWorkload(count, 100, 10_000);
  const results: BusResult[] = [];
  for (const subscribers of [1, 4]) {
    let sink = 0;
    const handlers = Array.from({ length: subscribers }, () => (t: { id: number }) => void (sink += t.id & 1));
    const bus = new MemoryBus(createMetrics(createRegistry({ defaults: false })).bus, silentLogger());
    for (const h of handlers) bus.subscribe('trade', h);
    const viaBus = opsPerSecond(count, () => {
      for (let i = 0; i < trades.length; i++) bus.publish('trade', trades[i]!);
    }, minMs);
    const direct = opsPerSecond(count, () => {
      for (let i = 0; i < trades.length; i++) for (let h = 0; h < handlers.length; h++) handlers[h]!(trades[i]!);
    }, minMs);
    if (sink === -1) console.log('unreachable');
    results.push({ subscribers, bus: viaBus, direct, ratio: viaBus / direct });
  }
  return results;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const r of benchMemoryBus()) console.log(JSON.stringify(r));
}
