// Whether a cluster may be reused for the next scenario: no journal holds an open fault on it, and it is as its
// baseline was (baseline.ts). The suite replaces a cluster its run made that cannot be proven so; a cluster the
// user named is kept, and the report says it was not proven clean.
import type { KubeContext } from '../cluster/context.js';
import { nodeAccess, type NodeAccess } from '../cluster/node-access.js';
import type { KubeClients } from '../cluster/kube.js';
import type { ClusterRef, Provider } from '../cluster/types.js';
import { sleep } from '../core/poll.js';
import { captureState, provenAsBefore, settledState, type ClusterState } from './baseline.js';
import { openJournalsOn } from './journal.js';

export interface CleanCheck {
  /** the baseline: the cluster once it has stopped moving (baseline.settledState) */
  capture(ref: ClusterRef): Promise<ClusterState>;
  /** what is left on the cluster since base; [] when it is proven as it was */
  left(ref: ClusterRef, base: ClusterState, signal?: AbortSignal): Promise<string[]>;
}

/** How long a check waits for the cluster to settle: the slowest thing a clean revert leaves in motion is
 *  kube-system after an API server restart (pods Ready again within a minute on the 2-core VM) and a namespace
 *  finishing its deletion. */
export const SETTLE_MS = 90_000;

export function clusterCleanCheck(provider: Provider, connect: (ref: ClusterRef) => KubeClients, withinMs = SETTLE_MS): CleanCheck {
  const capture = (ref: ClusterRef, kube = connect(ref)) => {
    const ctx: KubeContext & NodeAccess = { kube, provider, cluster: ref };
    return captureState(kube, nodeAccess(ctx));
  };
  return {
    capture(ref) {
      const kube = connect(ref);
      return settledState(() => capture(ref, kube), { withinMs, sleep });
    },
    async left(ref, base, signal) {
      const open = openJournalsOn(ref).map((j) => `journal ${j.file.runId} still holds ${j.openEntries().map((e) => `${e.id} (${e.state})`).join(', ')}`);
      if (open.length) return open;
      // one connection for every look while the cluster settles
      const kube = connect(ref);
      return provenAsBefore(() => capture(ref, kube), base, { withinMs, sleep, ...(signal ? { signal } : {}) });
    },
  };
}

/** One line for a report: the first few differences and how many more. */
export function summarizeLeft(left: string[], max = 4): string {
  return `${left.slice(0, max).join('; ')}${left.length > max ? `; and ${left.length - max} more` : ''}`;
}
