/** The one lifecycle: start in registration order, stop in reverse, once; failures on start and stop; signals. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { Lifecycle } from '../src/app/lifecycle.js';
import type { Service } from '../src/core/service.js';
import { log, until } from './support/harness.js';

function recorder() {
  const calls: string[] = [];
  const svc = (name: string, o: { failStart?: boolean; failStop?: boolean } = {}): Service => ({
    name,
    async start() {
      await new Promise((r) => setImmediate(r));
      if (o.failStart) throw new Error(`${name} cannot start`);
      calls.push(`start ${name}`);
    },
    async stop() {
      await new Promise((r) => setImmediate(r));
      calls.push(`stop ${name}`);
      if (o.failStop) throw new Error(`${name} cannot stop`);
    },
  });
  return { calls, svc };
}

test('services start in registration order and stop in reverse, once however often stop is called', async () => {
  const { calls, svc } = recorder();
  const lc = new Lifecycle(log);
  for (const n of ['store', 'api', 'writer', 'collector']) lc.register(svc(n));
  await lc.start();
  await Promise.all([lc.stop(), lc.stop('SIGTERM')]);
  await lc.stop();
  assert.deepEqual(calls, ['start store', 'start api', 'start writer', 'start collector', 'stop collector', 'stop writer', 'stop api', 'stop store']);
  assert.equal(lc.stopped, true);
  assert.throws(() => lc.register(svc('late')), /cannot register late after stop/);
});

test('a service that fails to start stops the ones already started, in reverse, and the error reaches the caller', async () => {
  const { calls, svc } = recorder();
  const lc = new Lifecycle(log);
  lc.register(svc('store'));
  lc.register(svc('api'));
  lc.register(svc('kafka', { failStart: true }));
  lc.register(svc('collector'));
  await assert.rejects(lc.start(), /kafka cannot start/);
  assert.deepEqual(calls, ['start store', 'start api', 'stop api', 'stop store'], 'nothing after the failed service starts; nothing that did not start is stopped');
});

test('a service that fails to stop does not keep the others from stopping', async () => {
  const { calls, svc } = recorder();
  const lc = new Lifecycle(log);
  lc.register(svc('store'));
  lc.register(svc('writer', { failStop: true }));
  lc.register(svc('collector'));
  await lc.start();
  await lc.stop();
  assert.deepEqual(calls.slice(3), ['stop collector', 'stop writer', 'stop store']);
});

test('SIGTERM, SIGINT and a fatal error each ask for a stop, with the reason', async () => {
  for (const [event, expected] of [['SIGTERM', 'SIGTERM'], ['SIGINT', 'SIGINT'], ['uncaughtException', 'fatal'], ['unhandledRejection', 'fatal']] as const) {
    const emitter = new EventEmitter();
    const proc = emitter as unknown as NodeJS.Process;
    const lc = new Lifecycle(log);
    const requested = lc.untilStopRequested(proc);
    emitter.emit(event, new Error('boom'));
    assert.equal(await requested, expected, event);
    assert.equal(proc.listenerCount('SIGTERM') + proc.listenerCount('SIGINT'), 0, `${event}: the signal handlers are removed once a stop is requested`);
  }
});

test('a stop asked for while a service is starting stops that service too, and nothing after it starts', async () => {
  const { calls, svc } = recorder();
  const lc = new Lifecycle(log);
  lc.register(svc('store'));
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  lc.register({ name: 'kafka', start: async () => { await gate; calls.push('start kafka'); }, stop: () => void calls.push('stop kafka') });
  lc.register(svc('collector'));
  const starting = lc.start();
  await until('store started, kafka is joining', () => calls.includes('start store'));
  const stopping = lc.stop('SIGTERM');
  release();
  await Promise.all([starting, stopping]);
  assert.deepEqual(calls, ['start store', 'start kafka', 'stop kafka', 'stop store'], 'the stop waits for kafka to finish starting, then stops it first; the collector never starts');
});
