/**
 * The chats subscribed to alerts (/subscribe, /unsubscribe), kept in a small JSON file across restarts
 * (`telegram.stateFile`; written to a temporary file and renamed, so a crash never leaves half a file). A file
 * that cannot be read or parsed is logged and the set starts empty: alerts then go to no chat until one
 * subscribes again, which the log line says.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { NotifierMetrics } from '../../telemetry/metrics.js';
import type { NotifierLog } from './redact.js';

export class Subscriptions {
  private readonly chats = new Set<number>();

  constructor(
    private readonly file: string | null,
    private readonly metrics: NotifierMetrics,
    private readonly log: NotifierLog,
  ) {
    if (file !== null) this.load(file);
    this.metrics.subscribedChats.set(this.chats.size);
  }

  has(chatId: number): boolean {
    return this.chats.has(chatId);
  }

  list(): number[] {
    return [...this.chats];
  }

  /** Adds a chat; false when it was already subscribed. */
  add(chatId: number): boolean {
    if (this.chats.has(chatId)) return false;
    this.chats.add(chatId);
    this.save();
    return true;
  }

  /** Removes a chat; false when it was not subscribed. */
  remove(chatId: number): boolean {
    if (!this.chats.delete(chatId)) return false;
    this.save();
    return true;
  }

  private load(file: string): void {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.log.warn({ component: 'notifier', file, error: String(err) }, 'cannot read the notifier state file; starting with no subscribed chats');
      return;
    }
    try {
      const doc = JSON.parse(text) as { subscribedChats?: unknown };
      if (!Array.isArray(doc.subscribedChats)) throw new Error('no subscribedChats list');
      for (const id of doc.subscribedChats) if (Number.isSafeInteger(id)) this.chats.add(id as number);
    } catch (err) {
      this.log.warn({ component: 'notifier', file, error: String(err) }, 'the notifier state file is not valid JSON of {"subscribedChats":[...]}; starting with no subscribed chats');
    }
  }

  private save(): void {
    this.metrics.subscribedChats.set(this.chats.size);
    if (this.file === null) return;
    try {
      mkdirSync(dirname(this.file), { recursive: true });
      const tmp = `${this.file}.${process.pid}.tmp`;
      writeFileSync(tmp, `${JSON.stringify({ subscribedChats: [...this.chats] })}\n`);
      renameSync(tmp, this.file);
    } catch (err) {
      this.log.error({ component: 'notifier', file: this.file, error: String(err) }, 'cannot write the notifier state file; subscriptions last until restart');
    }
  }
}
