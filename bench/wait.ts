/**
 * Bounded waiting for the benches: every wait has a deadline, so a broken server makes a bench
 * fail fast (or report what it got) instead of hanging.
 */

/** Resolves after `msDelay` ms (at once for zero or negative delays). */
export const sleep = (msDelay: number): Promise<unknown> =>
  new Promise((resolve) => setTimeout(resolve, msDelay));

/** Polls `done` every 20 ms until true or `timeoutMs` passed; returns whether it became true. */
export async function waitFor(done: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  while (!done()) {
    if (performance.now() > deadline) return false;
    await sleep(20);
  }
  return true;
}

/** Like `waitFor`, but also gives up once `progress()` has not changed for `stallMs`. */
export async function waitForProgress(
  done: () => boolean,
  progress: () => number,
  timeoutMs: number,
  stallMs: number,
): Promise<boolean> {
  let last = progress();
  let lastChange = performance.now();
  return await waitFor(() => {
    const now = progress();
    if (now !== last) [last, lastChange] = [now, performance.now()];
    return done() || performance.now() - lastChange > stallMs;
  }, timeoutMs) && done();
}

/** `promise`, or a rejection naming `what` once `timeoutMs` has passed without it settling. */
export function withTimeout<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout>;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`${what} timed out after ${timeoutMs} ms`)),
      timeoutMs,
    );
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
