/**
 * A child process for test/logging.test.ts: the role's logger with rotating files (rolling-file.ts in pino's
 * worker thread) and the retention sweep, writing numbered lines as fast as it can (every 7th at error) until
 * SIGTERM; then it stops writing, reports how many it wrote on stderr and returns, as a role's main does
 * (pino ends its worker after the last write). Usage: node log-load.js DIR
 */
import { join } from 'node:path';
import { systemClock } from '../../src/core/clock.js';
import { createLogger } from '../../src/telemetry/logger.js';
import { startLogRetention } from '../../src/telemetry/log-retention.js';

// `node --test dist/test/` also runs this file, with no DIR: then it does nothing.
const dir = process.argv[2];
if (dir !== undefined) run(dir);

function run(dir: string): void {
  const files = { file: join(dir, 'app.log'), errorFile: join(dir, 'error.log'), maxSize: '256k' };
  const log = createLogger({ level: 'info', format: 'json', base: { role: 'load' }, files });
  const stopRetention = startLogRetention([files.file, files.errorFile], 30 * 86_400_000, systemClock);
  let seq = 0;
  let running = true;
  process.once('SIGTERM', () => {
    running = false;
  });
  const burst = () => {
    if (!running) {
      stopRetention();
      process.stderr.write(`wrote ${seq}\n`);
      return;
    }
    for (let i = 0; i < 100; i++) {
      seq++;
      if (seq % 7 === 0) log.error({ seq }, 'an error line');
      else log.info({ seq, pad: 'x'.repeat(80) }, 'an info line');
    }
    setTimeout(burst, 1);
  };
  burst();
}
