/** What every command does around its main function: usage errors, exit codes, one-line failures. */
import { InvalidValueError, UsageError } from './flags.js';

export type Main = (argv: string[]) => Promise<number | undefined>;

export function runMain(program: string, main: Main, argv: string[]): void {
  main(argv).then(
    (code) => {
      if (code !== undefined) process.exitCode = code;
    },
    (err: unknown) => {
      if (err instanceof InvalidValueError) {
        process.stderr.write(`${program}: ${err.message}\n`);
        process.exitCode = 2;
      } else if (err instanceof UsageError) {
        process.stderr.write(`${program}: ${err.message}\nRun '${program} -help' for usage.\n`);
        process.exitCode = 2;
      } else {
        process.stderr.write(`${program}: ${err instanceof Error ? err.message : String(err)}\n`);
        process.exitCode = 1;
      }
    },
  );
}
