// The reset between two scenarios (or batches) on one cluster: the baseline taken when the cluster is first used,
// and the proof before each later use that the cluster is as it was, or its replacement when it is not.
import type { ClusterRef } from '../cluster/types.js';
import { errorMessage } from '../core/errors.js';
import type { ClusterState } from './baseline.js';
import { summarizeLeft, type CleanCheck } from './clean-check.js';
import type { SuiteOptions } from './suite.js';

export interface Reset {
  check: CleanCheck | undefined;
  /** more than one scenario will run on the cluster */
  wanted: boolean;
  baseline?: ClusterState;
  /** why no baseline could be taken */
  baselineError?: string;
  /** the scenario that ran on the cluster last */
  after?: string;
  /** deletes a cluster this run made, to make it anew */
  replace(made: ClusterRef): Promise<void>;
}

/** Before a scenario on a cluster that an earlier one used: is it as it was? A cluster this run made that is not
 *  proven so is deleted (and made again by the caller); a cluster the user named is kept, with the reason. */
export function usingMessage(ref: ClusterRef, opts: Pick<SuiteOptions, 'target'>): string {
  return opts.target.mode === 'reuse' ? `using cluster ${ref.name} (context ${ref.context})` : `reusing cluster ${ref.name}`;
}

export async function resetBetween(ref: ClusterRef, reset: Reset, opts: Pick<SuiteOptions, 'target'>, progress: (m: string) => void, signal: AbortSignal): Promise<{ message: string; replace: boolean }> {
  const using = usingMessage(ref, opts);
  if (!reset.check || !reset.after) return { message: using, replace: false };
  progress(`checking that ${reset.after} left cluster ${ref.name} as it was`);
  const left = reset.baseline ? await reset.check.left(ref, reset.baseline, signal) : [`no baseline to compare with (${reset.baselineError ?? 'none taken'})`];
  if (left.length === 0) return { message: `${using}: proven as it was before ${reset.after} (no open journal, nothing of faultline's left, kube-system and node files as captured)`, replace: false };
  const why = `not proven clean after ${reset.after}: ${summarizeLeft(left)}`;
  if (opts.target.mode === 'reuse') return { message: `${using}; ${why} (faultline replaces only clusters its run made)`, replace: false };
  progress(`cluster ${ref.name} is ${why}; replacing it`);
  await reset.replace(ref);
  return { message: `replaced cluster ${ref.name}, ${why}`, replace: true };
}

export async function takeBaseline(ref: ClusterRef, reset: Reset, progress: (m: string) => void): Promise<void> {
  if (!reset.check || !reset.wanted) return;
  progress(`capturing cluster ${ref.name}'s baseline for the reset between scenarios`);
  try {
    reset.baseline = await reset.check.capture(ref);
    reset.baselineError = undefined;
  } catch (err) {
    reset.baseline = undefined;
    reset.baselineError = errorMessage(err);
  }
}

