// The hold-after-apply test hook, read from the environment.
import { MAX_SECONDS } from '../core/durations.js';

/** Test hook, not for normal use: FAULTLINE_TEST_HOLD_AFTER_APPLY_MS makes the inject stage wait that long
 *  after the fault is applied (and journalled), so a test can deliver SIGINT or SIGKILL while the fault is
 *  really in place. The inject deadline is extended by the hold; the stage's signal (abort or deadline)
 *  ends the wait. Returns 0 when unset; throws on a value that is not a whole number of milliseconds. */
export const HOLD_ENV = 'FAULTLINE_TEST_HOLD_AFTER_APPLY_MS';
export function holdAfterApplyMs(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env[HOLD_ENV];
  if (raw === undefined || raw === '') return 0;
  const ms = /^\d+$/.test(raw.trim()) ? Number(raw.trim()) : NaN;
  if (!(ms <= MAX_SECONDS * 1000)) throw new Error(`${HOLD_ENV} must be a whole number of milliseconds up to ${MAX_SECONDS * 1000} (got "${raw}")`);
  return ms;
}
