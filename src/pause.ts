/** Waits that a stop can cut short: backoff between retries ends at once when the waiter is told to stop. */
export class Pause {
  private wakeUp: (() => void) | undefined;

  /** Resolves after ms, or at once on wake(). */
  for(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.wakeUp = undefined;
        resolve();
      }, ms);
      this.wakeUp = () => {
        clearTimeout(timer);
        this.wakeUp = undefined;
        resolve();
      };
    });
  }

  /** Ends the current wait, if any. */
  wake(): void {
    this.wakeUp?.();
  }
}
