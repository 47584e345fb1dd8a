/**
 * The sends of a connection that are waiting for their outcome, and the
 * connection's failure: the first failure rejects every waiting send, once,
 * and is told (to close the connection and to tell the forwarder); any send
 * after it is rejected at once with the same error.
 */
import { SendError } from '../sender.js';

export class PendingSends {
  failure: SendError | undefined;
  private readonly waiting = new Set<(err: SendError) => void>();

  constructor(private readonly onFirstFailure: (err: SendError) => void) {}

  /** A promise for one send: start() begins it and calls done once it is over (with an error if it failed). */
  track(start: (done: (err?: SendError) => void) => void): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.waiting.add(reject);
      start((err) => {
        this.waiting.delete(reject);
        if (err) reject(this.failure ?? err);
        else resolve();
      });
    });
  }

  /** The connection failed: every waiting send is rejected; true if this is the first failure. */
  fail(err: SendError): boolean {
    if (this.failure) return false;
    this.failure = err;
    for (const reject of this.waiting) reject(err);
    this.waiting.clear();
    this.onFirstFailure(err);
    return true;
  }
}
