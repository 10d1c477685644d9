// Bounds on every duration a user can set. Node's timers hold at most 2^31-1 ms (about 24.8 days); a longer
// delay fires after 1 ms, so a deadline typed with a few zeros too many would end a stage at once.
import { z } from 'zod';

/** The longest timer Node keeps (ms). */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** The longest deadline, window or wait a scenario, a plug-in's params or a flag may give: one week. */
export const MAX_SECONDS = 7 * 24 * 3600;

/** A positive number of seconds, at most MAX_SECONDS. */
export function secondsSchema() {
  return z.number().positive().max(MAX_SECONDS, `at most ${MAX_SECONDS} seconds (one week)`);
}

/** Throws for a delay Node's timers would not keep, rather than let it fire at once. */
export function assertTimerMs(ms: number, what: string): void {
  if (!Number.isFinite(ms) || ms < 0 || ms > MAX_TIMER_MS) {
    throw new RangeError(`${what}: ${ms} ms is outside 0..${MAX_TIMER_MS} ms`);
  }
}

/** "900", "90s", "15m" or "2h" as seconds (1..MAX_SECONDS); undefined for anything else. */
export function parseSeconds(raw: string): number | undefined {
  const m = /^(\d+)\s*(s|m|h)?$/.exec(raw.trim());
  if (!m) return undefined;
  const n = Number(m[1]) * (m[2] === 'h' ? 3600 : m[2] === 'm' ? 60 : 1);
  return n >= 1 && n <= MAX_SECONDS ? n : undefined;
}
