// A bound on how long the collector waits for its store or Redis: the answer of `work`, or a
// rejection with `message` once `ms` have passed. The timer is cleared either way, and a late
// rejection of `work` stays handled (the race listens to it).

/** What withDeadline rejects with once its time has passed (not an error of the work itself). */
export class DeadlineError extends Error {}

export async function withDeadline<T>(work: Promise<T>, ms: number, message: string): Promise<T> {
  if (ms <= 0) return work;
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DeadlineError(message)), ms);
  });
  try {
    return await Promise.race([work, deadline]);
  } finally {
    clearTimeout(timer);
  }
}
