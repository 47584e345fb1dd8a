/** memlog init: `memlog init [-stop-after SECONDS] CONFIG.yml` (the boot of the article, runnable). */
import { describeConfig } from '../init/config-describe.js';
import { loadConfigApart } from '../init/config-apart.js';
import { Init } from '../init/supervisor.js';
import { parseCommandLine, UsageError, type FlagSpecs } from './flags.js';

export const INIT_FLAGS = {
  'stop-after': { type: 'int', arg: 'SECONDS', help: 'shut down by itself after this long (demonstrations, CI)' },
  check: { type: 'bool', help: 'check CONFIG.yml and print it as the init reads it (JSON, every path absolute); boot nothing' },
} satisfies FlagSpecs;

export async function initMain(argv: string[], synopsis = 'memlog init [-stop-after SECONDS] [-check] CONFIG.yml'): Promise<number> {
  const parsed = parseCommandLine(argv, INIT_FLAGS, synopsis);
  if (!parsed) return 0;
  const { values, rest } = parsed;
  if (rest.length !== 1) throw new UsageError(rest.length === 0 ? 'no config file given' : `one config file, not ${rest.length}`);
  if (values.check) {
    // Only here is the YAML parser loaded (see config-apart.ts).
    const { loadConfig } = await import('../init/config.js');
    process.stdout.write(`${JSON.stringify(loadConfig(rest[0]), null, 2)}\n`);
    return 0;
  }
  const config = loadConfigApart(rest[0]);
  if ('code' in config) {
    process.stderr.write(config.stderr); // the checker's one-line error, as is
    return config.code;
  }
  const init = new Init(config);
  const stop = (signal: string): void => void init.shutdown(signal);
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  process.stderr.write(`init: ${describeConfig(config)}\n`);
  await init.boot();
  if (config.memlogd && init.memlogd) {
    const q = config.memlogd.socketQuery;
    process.stderr.write(
      [
        'init: booted. From another terminal:',
        `   bin/logread -socket ${q} -F          # dump the ring, then follow`,
        `   bin/memlog bundle -socket ${q} -log-dir ${config.logDir} -o bundle.tar.gz`,
        config.persist
          ? `   ls ${config.persist.logDir}                  # the persisted files`
          : `   ls ${config.logDir}                  # the persisted files, if a logwrite service runs`,
        'init: Ctrl-C (or SIGTERM) stops everything in order.',
        '',
      ].join('\n'),
    );
  }
  if (values['stop-after'] !== undefined) setTimeout(() => stop(`-stop-after ${values['stop-after']}`), values['stop-after'] * 1000).unref();
  await init.whenStopped();
  return 0;
}
