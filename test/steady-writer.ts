/**
 * A writer for the tests: prints numbered lines, `PREFIX N`, at a steady pace
 * (BATCH lines every 2 ms) from START until killed or COUNT lines are out.
 * Usage: node steady-writer.js PREFIX START COUNT [BATCH]
 */
const [prefix, startArg, countArg, batchArg] = process.argv.slice(2);
let n = Number(startArg);
const end = n + Number(countArg);
const batch = Number(batchArg ?? 5);

const timer = setInterval(() => {
  let out = '';
  for (let i = 0; i < batch && n < end; i++) out += `${prefix} ${n++}\n`;
  process.stdout.write(out);
  if (n >= end) {
    clearInterval(timer);
    process.stdout.end();
  }
}, 2);
process.stdout.on('error', () => process.exit(0));
