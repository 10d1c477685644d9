// Polling with abort: used by stages that wait for the cluster (readiness, detection, recovery).
import { assertTimerMs } from './durations.js';
import { AbortedError, errorMessage } from './errors.js';

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  assertTimerMs(ms, 'sleep');
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new AbortedError(String(signal.reason)));
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(new AbortedError(String(signal?.reason)));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

export interface PollOptions {
  intervalMs: number;
  signal: AbortSignal;
  /** called after each unsuccessful attempt, with the attempt number and the last error if it threw */
  onMiss?(attempt: number, lastError?: string): void;
}

/** Calls fn until it returns a value other than undefined. Errors count as misses (the API may blip while
 *  pods restart); the stage deadline, through the signal, ends the wait. */
export async function pollUntil<T>(fn: (attempt: number) => Promise<T | undefined>, opts: PollOptions): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    let lastError: string | undefined;
    try {
      const v = await fn(attempt);
      if (v !== undefined) return v;
    } catch (err) {
      if (err instanceof AbortedError) throw err;
      lastError = errorMessage(err);
    }
    opts.onMiss?.(attempt, lastError);
    await sleep(opts.intervalMs, opts.signal);
  }
}

export class TimeoutError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TimeoutError';
  }
}

/** p, or a TimeoutError `${what}: no answer within Ns` once ms have passed (p is left to end on its own). */
export function bounded<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TimeoutError(`${what}: no answer within ${ms / 1000}s`)), ms);
    timer.unref?.();
  });
  p.catch(() => {});
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

/** Calls check every intervalMs until it returns true; past withinMs, throws `${what} after Ns`. For waits a fault
 *  or set-up bounds itself (they also run in `recover`, where no stage deadline applies). Errors propagate. */
export async function waitUntil(check: () => Promise<boolean>, o: { withinMs: number; intervalMs: number; what: string; signal?: AbortSignal }): Promise<void> {
  const until = Date.now() + o.withinMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > until) throw new Error(`${o.what} after ${o.withinMs / 1000}s`);
    await sleep(o.intervalMs, o.signal);
  }
}
