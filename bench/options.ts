/** The bench's command line. */
import { parseArgs } from 'node:util';
import { DEFAULT_TEMPLATE, checkTemplate } from './daemon.js';

export interface Options {
  template: string;
  repeat: number;
  scale: number;
  /** Ring entries for memory and dump; undefined: 1,000,000 x scale. */
  ring: number | undefined;
  only: string[] | undefined;
  list: boolean;
  help: boolean;
}

export const USAGE = `npm run bench -- [options]   (or: node dist/bench/run.js [options])

  --daemon 'CMD ...'   the daemon to measure, a command template; {log} and {query}
                       become socket paths in a temp dir, {maxLines} and {maxBytes}
                       what the scenario sets (default ring: 5000 lines, 16 MiB).
                       Default: '${DEFAULT_TEMPLATE}'
                       Split into words like a shell (quotes, backslashes), run
                       without a shell in the repository's root; it must be the
                       daemon itself (its CPU and RSS are read from its /proc/<pid>).
  --repeat N           runs of each scenario (default 3); the table gives min / median / max
  --scale F            multiplies line counts (default 1; 0.1 for a quick run)
  --ring N             entries in the ring for memory and dump (default 1,000,000 x scale)
  --only a,b           only these scenarios (see --list)
  --list               list the scenarios and exit
  --help               this text

Results: a table on stdout, the same as JSON in bench/results/latest.json.`;

function positive(name: string, text: string, integer: boolean): number {
  const v = Number(text);
  if (!Number.isFinite(v) || v <= 0 || (integer && !Number.isInteger(v))) {
    throw new Error(`--${name} must be a positive ${integer ? 'whole ' : ''}number, not "${text}"`);
  }
  return v;
}

export function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      daemon: { type: 'string' },
      repeat: { type: 'string', default: '3' },
      scale: { type: 'string', default: '1' },
      ring: { type: 'string' },
      only: { type: 'string' },
      list: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
    allowPositionals: false,
  });
  const template = values.daemon ?? DEFAULT_TEMPLATE;
  checkTemplate(template);
  return {
    template,
    repeat: positive('repeat', values.repeat, true),
    scale: positive('scale', values.scale, false),
    ring: values.ring === undefined ? undefined : positive('ring', values.ring, true),
    only: values.only
      ?.split(',')
      .map((s) => s.trim())
      .filter((s) => s !== ''),
    list: values.list,
    help: values.help,
  };
}
