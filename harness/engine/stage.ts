// Runs one stage under a deadline and the run's abort signal, and turns the outcome into a timeline entry.
import type { StageName, StageStatus } from '../core/stages.js';
import type { StageReport } from '../report/types.js';
import { assertTimerMs } from '../core/durations.js';
import { errorMessage } from '../core/errors.js';

export interface Clock {
  now(): number;
}

export const realClock: Clock = { now: () => Date.now() };

export interface StageCtx {
  /** fires on the run's abort or on this stage's deadline; long waits must honour it */
  signal: AbortSignal;
  progress(msg: string): void;
}

export type StageFn = (s: StageCtx) => Promise<string | void>;

export interface StageOptions {
  /** the run's signal; revert and teardown run without it so Ctrl-C still cleans up */
  runSignal?: AbortSignal;
  clock?: Clock;
  onProgress?(stage: StageName, msg: string): void;
  /** how often to say that a stopped stage's work is still running (default 10 s) */
  stoppingNoticeMs?: number;
}

export class DeadlineExceeded extends Error {
  constructor(seconds: number) {
    super(`exceeded its deadline of ${seconds}s`);
    this.name = 'DeadlineExceeded';
  }
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

export function skippedStage(name: StageName, deadlineSeconds: number, message: string, clock: Clock = realClock): StageReport {
  const t = iso(clock.now());
  return { name, status: 'skipped', startedAt: t, endedAt: t, durationSeconds: 0, deadlineSeconds, message };
}

export async function runStage(name: StageName, deadlineSeconds: number, fn: StageFn, opts: StageOptions = {}): Promise<StageReport> {
  const clock = opts.clock ?? realClock;
  const started = clock.now();
  const ctrl = new AbortController();
  const runSignal = opts.runSignal;
  const finish = (status: StageStatus, message?: string): StageReport => {
    const ended = clock.now();
    return {
      name,
      status,
      startedAt: iso(started),
      endedAt: iso(ended),
      durationSeconds: Math.round((ended - started) / 10) / 100,
      deadlineSeconds,
      ...(message ? { message } : {}),
    };
  };
  if (runSignal?.aborted) return finish('interrupted', `interrupted by ${String(runSignal.reason)}`);
  assertTimerMs(deadlineSeconds * 1000, `${name} deadline`);

  let timer: NodeJS.Timeout | undefined;
  let outcome: 'deadline' | 'abort' | undefined;
  let onAbort: (() => void) | undefined;
  const stop = new Promise<void>((resolve) => {
    timer = setTimeout(() => {
      outcome ??= 'deadline';
      ctrl.abort(new DeadlineExceeded(deadlineSeconds));
      resolve();
    }, deadlineSeconds * 1000);
    onAbort = () => {
      outcome ??= 'abort';
      ctrl.abort(runSignal!.reason);
      resolve();
    };
    runSignal?.addEventListener('abort', onAbort, { once: true });
  });
  let lastProgress: string | undefined;
  const progress = (m: string) => {
    lastProgress = m;
    opts.onProgress?.(name, m);
  };
  // a line per stage start: a person (or a script timing an interrupt) sees where the run is
  opts.onProgress?.(name, 'started');
  const work = (async () => fn({ signal: ctrl.signal, progress }))().then(
    (message) => ({ ok: true as const, message: message ?? undefined }),
    (error: unknown) => ({ ok: false as const, error }),
  );
  const first = await Promise.race([work, stop.then(() => undefined)]);
  clearTimeout(timer);
  // the run's signal outlives every stage: leaving listeners on it leaks one per stage and scenario
  if (onAbort) runSignal?.removeEventListener('abort', onAbort);
  if (first && !outcome) return first.ok ? finish('passed', first.message) : finish('failed', errorMessage(first.error));
  const why = outcome === 'abort' ? `interrupted by ${String(runSignal?.reason ?? 'signal')}` : `${name} exceeded its deadline of ${deadlineSeconds}s`;
  const last = lastProgress;
  // The work may still be changing the cluster (an apply that does not honour its signal): a later stage, revert
  // above all, must not start before it has ended, or the cluster changes after the journal says "reverted".
  // So there is no grace period: the stage waits for its work, and says so while it takes.
  await waitForWork(work, name, why, opts);
  const lastSaid = last ? ` (last: ${last})` : '';
  return outcome === 'abort' ? finish('interrupted', why) : finish('failed', `${why}${lastSaid}`);
}

async function waitForWork(work: Promise<unknown>, name: StageName, why: string, opts: StageOptions): Promise<void> {
  const every = opts.stoppingNoticeMs ?? 10_000;
  const ticker = setInterval(() => opts.onProgress?.(name, `${why}; waiting for its work to stop before going on`), every);
  ticker.unref();
  try {
    await work;
  } finally {
    clearInterval(ticker);
  }
}
