import { detached } from "../observability/scope.js";

/**
 * The calls made in one turn of the event loop, answered by one call of `run` with all their keys:
 * the subscribers an event wakes all ask within the same turn, so a check each of them makes costs
 * one statement, not one per subscriber. Nothing is kept between turns: every event reads afresh.
 * `run` answers in the order of the keys; a value may be an error the caller turns into its own answer.
 */
export class TickBatch<K, V> {
  private pending: { key: K; resolve: (value: V) => void; reject: (error: unknown) => void }[] | null = null;

  constructor(private readonly run: (keys: K[]) => Promise<V[]>) {}

  load(key: K): Promise<V> {
    return new Promise<V>((resolve, reject) => {
      if (!this.pending) {
        this.pending = [];
        // After every promise job of this turn: the last subscriber's call is in by then. Out of the first caller's scope: the statement is everyone's.
        detached(() => setImmediate(() => void this.flush()));
      }
      this.pending.push({ key, resolve, reject });
    });
  }

  private async flush() {
    const calls = this.pending!;
    this.pending = null;
    try {
      const values = await this.run(calls.map((call) => call.key));
      calls.forEach((call, i) => call.resolve(values[i]!));
    } catch (error) {
      for (const call of calls) call.reject(error);
    }
  }
}
