// Runs tasks one at a time per key and concurrently across keys (the ingest pipeline's per-cluster
// order). A key's entry lives only while it has tasks, so idle keys cost nothing.

export class KeyedQueue {
  /** Per key, the promise of its last queued task (settled or not). */
  private readonly tails = new Map<string, Promise<unknown>>();

  /** Runs `task` after every task queued before it under `key` has settled; its result or error. */
  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key);
    const result = previous ? previous.then(task, task) : task();
    // The tail never rejects, so an error reaches the caller only, not the next task.
    const tail = result.then(
      () => {},
      () => {},
    );
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return result;
  }

  /** Keys with a task queued or running. */
  get size(): number {
    return this.tails.size;
  }
}
