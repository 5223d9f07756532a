/** Subscribe batching for adapters whose stream names are `<topic>:<native symbol>` (Coinbase, Kraken). */
import type { StreamRef } from './adapter.js';

/**
 * The streams' symbols grouped by topic (everything before the last `:`), in order, cut into batches of at
 * most `size`: one subscribe message each.
 */
export function batchesByTopic(streams: readonly StreamRef[], size: number): { topic: string; symbols: string[] }[] {
  const byTopic = new Map<string, string[]>();
  for (const s of streams) {
    const cut = s.name.lastIndexOf(':');
    const topic = s.name.slice(0, cut);
    const list = byTopic.get(topic);
    if (list) list.push(s.name.slice(cut + 1));
    else byTopic.set(topic, [s.name.slice(cut + 1)]);
  }
  const out: { topic: string; symbols: string[] }[] = [];
  for (const [topic, symbols] of byTopic) for (let i = 0; i < symbols.length; i += size) out.push({ topic, symbols: symbols.slice(i, i + size) });
  return out;
}
