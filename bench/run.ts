/**
 * npm run bench: the benchmark suite. Measures any daemon that speaks the
 * log and query sockets' protocol (--daemon), scenario by scenario (see
 * scenarios/index.ts and --list), each run --repeat times (round robin, so
 * that noise on the machine spreads over all of them), and prints one table
 * of min / median / max with the issue's targets; the same goes to
 * bench/results/latest.json. See --help.
 */
import fs from 'node:fs';
import path from 'node:path';
import { installCleanup } from './children.js';
import { renderMarkdown, renderTable, summarize, type FigureSpec, type FigureSummary, type TableRow, type Values } from './figures.js';
import { describeMachine, gitState, machine } from './machine.js';
import { nullReaderPath } from './null-reader.js';
import { USAGE, parseOptions, type Options } from './options.js';
import { RESULTS } from './paths.js';
import { SCENARIOS } from './scenarios/index.js';
import { FULL_RING } from './scenarios/memory.js';
import type { Context, Scenario } from './scenarios/types.js';

type Run = { values: Values; seconds: number } | { error: string; seconds: number };

function shellQuote(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

function note(msg: string): void {
  process.stderr.write(`${msg}\n`);
}

function select(opts: Options): Scenario[] {
  if (!opts.only) return SCENARIOS;
  const known = new Map(SCENARIOS.map((s) => [s.name, s]));
  const unknown = opts.only.filter((n) => !known.has(n));
  if (unknown.length > 0) throw new Error(`unknown scenario(s): ${unknown.join(', ')} (known: ${SCENARIOS.map((s) => s.name).join(', ')})`);
  // In the suite's order, whatever the order given.
  return SCENARIOS.filter((s) => opts.only?.includes(s.name));
}

function firstFigure(s: Scenario, ctx: Context, v: Values): string {
  const spec = s.figures(ctx).find((f) => v[f.key] !== undefined);
  if (!spec) return '';
  const x = v[spec.key];
  return `${spec.label} ${spec.format === 'rate' || spec.format === 'count' ? Math.round(x).toLocaleString('en-US') : x.toFixed(spec.format === 'us' ? 3 : 1)}`;
}

/** ingest-N as a fraction of transport-N, run by run (round robin: run i of each ran close in time). */
function addTransportFractions(runs: Map<string, Run[]>): void {
  for (const [name, ingestRuns] of runs) {
    const m = /^ingest-(\d+)$/.exec(name);
    const transportRuns = m ? runs.get(`transport-${m[1]}`) : undefined;
    if (!transportRuns) continue;
    ingestRuns.forEach((run, i) => {
      const t = transportRuns[i];
      if ('values' in run && t && 'values' in t && t.values.rate > 0) run.values.ofTransport = (run.values.rate / t.values.rate) * 100;
    });
  }
}

async function main(): Promise<number> {
  installCleanup();
  const argv = process.argv.slice(2);
  let opts: Options;
  let scenarios: Scenario[];
  try {
    opts = parseOptions(argv);
    scenarios = select(opts);
  } catch (err) {
    note(`bench: ${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (opts.help) {
    console.log(USAGE);
    return 0;
  }
  const ctx: Context = {
    template: opts.template,
    scale: opts.scale,
    ring: opts.ring ?? Math.max(1000, Math.round(FULL_RING * opts.scale)),
    nullReader: nullReaderPath,
    note,
  };
  if (opts.list) {
    for (const s of SCENARIOS) console.log(`${s.name.padEnd(12)} ${s.description}`);
    return 0;
  }

  const command = `${process.env.npm_lifecycle_event === 'bench' ? 'npm run bench' : 'node dist/bench/run.js'}${argv.length ? `${process.env.npm_lifecycle_event === 'bench' ? ' --' : ''} ${argv.map(shellQuote).join(' ')}` : ''}`;
  const date = new Date();
  const m = machine();
  const git = gitState();
  const header = [
    `memlog bench, ${date.toISOString()}: ${opts.repeat} run(s) of each scenario, scale ${opts.scale}, ring ${ctx.ring.toLocaleString('en-US')} (memory, dump)`,
    `daemon:  ${opts.template}`,
    `machine: ${describeMachine(m)}`,
    `command: ${command}${git ? `   (at ${git.commit.slice(0, 12)}${git.dirty ? ', src/ with uncommitted changes' : ''})` : ''}`,
  ].join('\n');
  note(`bench: ${scenarios.length} scenario(s) x ${opts.repeat} run(s); daemon: ${opts.template}`);

  const runs = new Map<string, Run[]>(scenarios.map((s) => [s.name, []]));
  const began = Date.now();
  for (let r = 1; r <= opts.repeat; r++) {
    for (const s of scenarios) {
      const t0 = Date.now();
      process.stderr.write(`[${r}/${opts.repeat}] ${s.name.padEnd(13)} `);
      let run: Run;
      try {
        const values = await s.run(ctx);
        run = { values, seconds: (Date.now() - t0) / 1000 };
        note(`${firstFigure(s, ctx, values)}  (${run.seconds.toFixed(1)} s)`);
      } catch (err) {
        const msg = err instanceof Error ? err.message : String(err);
        run = { error: msg, seconds: (Date.now() - t0) / 1000 };
        note(`FAILED: ${msg}`);
      }
      runs.get(s.name)?.push(run);
    }
  }
  addTransportFractions(runs);

  const rows: TableRow[] = [];
  const json: Record<string, unknown> = {};
  let failures = 0;
  for (const s of scenarios) {
    const sRuns = runs.get(s.name) ?? [];
    const ok = sRuns.flatMap((x) => ('values' in x ? [x.values] : []));
    const errors = sRuns.flatMap((x) => ('error' in x ? [x.error] : []));
    failures += errors.length;
    const specs: FigureSpec[] = s.figures(ctx).filter((f) => ok.some((v) => v[f.key] !== undefined) || ok.length === 0);
    const summaries: FigureSummary[] = ok.length > 0 ? specs.map((f) => summarize(f, ok)) : [];
    for (const summary of summaries) rows.push({ scenario: s.name, summary });
    for (const e of [...new Set(errors)]) rows.push({ scenario: s.name, error: `${errors.filter((x) => x === e).length} run(s): ${e.split('\n')[0].slice(0, 160)}` });
    json[s.name] = {
      description: s.description,
      runs: sRuns,
      figures: Object.fromEntries(summaries.map((x) => [x.key, x])),
    };
  }
  const table = renderTable(rows);
  const footer = `target: the issue's; met: judged on the median ("k/N runs": how many single runs met it). MB = 10^6 bytes. Total ${((Date.now() - began) / 1000).toFixed(0)} s.`;
  console.log(`\n${header}\n\n${table}\n\n${footer}`);

  fs.mkdirSync(RESULTS, { recursive: true });
  const out = path.join(RESULTS, 'latest.json');
  const result = {
    date: date.toISOString(),
    machine: m,
    git,
    daemon: opts.template,
    command,
    argv: process.argv,
    options: { repeat: opts.repeat, scale: opts.scale, ring: ctx.ring, only: opts.only ?? null },
    totalSeconds: (Date.now() - began) / 1000,
    scenarios: json,
    table,
    markdown: renderMarkdown(rows),
  };
  fs.writeFileSync(out, JSON.stringify(result, null, 2) + '\n');
  note(`\nwritten: ${path.relative(process.cwd(), out) || out}${failures ? `; ${failures} run(s) failed` : ''}`);
  return failures > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
