/**
 * One message when something becomes unreachable, one when it is back, and
 * nothing for each failed retry in between: an outage of an hour is two lines.
 */
export class OutageLog {
  private since: number | undefined;

  constructor(
    private readonly what: string,
    private readonly warn: (msg: string) => void,
    private readonly info: (msg: string) => void,
  ) {}

  get down(): boolean {
    return this.since !== undefined;
  }

  /** Says why, if this starts an outage; true then. */
  fail(why: string): boolean {
    if (this.since !== undefined) return false;
    this.since = Date.now();
    this.warn(`${this.what}: ${why}`);
    return true;
  }

  recover(how: string): void {
    if (this.since === undefined) return;
    const seconds = ((Date.now() - this.since) / 1000).toFixed(1);
    this.since = undefined;
    this.info(`${this.what}: ${how} after ${seconds} s`);
  }
}
