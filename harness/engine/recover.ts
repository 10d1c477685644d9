// `faultline recover`: undo what a killed run left applied. It takes each journal over only when its run has
// ended (the journal's lock), only on a cluster it may change (the same test as injection), and only while no
// other run uses that cluster (the cluster's lock). Everything it could not do is said, with the reason.
import type { KubeClients } from '../cluster/kube.js';
import { forgetOwned, lockCluster, verifiedRecord } from '../cluster/ownership.js';
import type { ClusterRef, Provider } from '../cluster/types.js';
import { errorMessage } from '../core/errors.js';
import { LockHeld, type Lock } from '../core/lock.js';
import type { FaultRegistry } from '../faults/registry.js';
import { listJournals, type BadJournal, type JournalEntry, type RunJournal } from './journal.js';
import { inRunOrder, revertEntries } from './revert.js';
import type { ListerFor } from './safety.js';

export interface RecoverDeps {
  faults: FaultRegistry;
  connect(ref: ClusterRef): KubeClients;
  /** the provider for a journal's cluster; entries are what is left open (node agents among them say how nodes are reached) */
  provider(ref: ClusterRef, entries?: JournalEntry[]): Provider;
  log(msg: string): void;
  journalDir?: string;
  listerFor?: ListerFor;
}

export interface RecoverOptions {
  runId?: string;
  /** contexts the user allows recover to change (journals of runs that injected with --allow-context) */
  allowContexts?: string[];
  /** shown to a later process that finds this one's locks */
  command?: string;
}

export interface RecoverOutcome {
  runId: string;
  /** why nothing was reverted; with `open` true the journal still holds faults */
  skipped?: string;
  open: boolean;
  reverted: string[];
  failed: string[];
  /** entries marked closed because their cluster no longer exists */
  closed: string[];
}

export interface RecoverReport {
  outcomes: RecoverOutcome[];
  bad: BadJournal[];
}

/** True when something is left that recover did not undo: a skipped open journal, a failed revert, a bad file. */
export function leftOpen(r: RecoverReport): boolean {
  return r.bad.length > 0 || r.outcomes.some((o) => o.failed.length > 0 || (o.skipped !== undefined && o.open));
}

export async function recover(deps: RecoverDeps, opts: RecoverOptions = {}): Promise<RecoverReport> {
  const listing = listJournals(deps.journalDir);
  const journals = listing.journals.filter((j) => (opts.runId ? j.file.runId === opts.runId : j.openEntries().length > 0));
  const outcomes: RecoverOutcome[] = [];
  for (const j of journals) outcomes.push(await recoverOne(j, deps, opts));
  // with --run, only that run's journal is the question; a bad file elsewhere is still named
  return { outcomes, bad: listing.bad };
}

async function recoverOne(j: RunJournal, deps: RecoverDeps, opts: RecoverOptions): Promise<RecoverOutcome> {
  const { runId, cluster } = j.file;
  const out: RecoverOutcome = { runId, open: true, reverted: [], failed: [], closed: [] };
  const skip = (why: string): RecoverOutcome => ({ ...out, skipped: why });
  if (j.openEntries().length === 0) return { ...out, open: false, skipped: 'nothing left to revert' };

  const gate = await mayChange(j, deps, opts);
  if (gate === 'gone') {
    const reason = `cluster ${cluster.name} no longer exists`;
    try {
      j.adopt(opts.command ?? 'faultline recover');
    } catch (err) {
      if (err instanceof LockHeld) return skip(liveRun(err));
      throw err;
    }
    for (const e of j.openEntries()) {
      j.setState(e.id, 'closed', `${reason}; its faults went with it (was ${e.state})`);
      out.closed.push(e.id);
    }
    j.close();
    // a record of it, if any, is stale: forget it with the kubeconfig faultline wrote for it
    if (cluster.createdByFaultline && cluster.provider !== 'existing') forgetOwned(cluster.provider, cluster.name);
    return { ...out, open: false };
  }
  if (gate) return skip(gate);

  let clusterLock: Lock | undefined;
  try {
    j.adopt(opts.command ?? 'faultline recover');
  } catch (err) {
    if (err instanceof LockHeld) return skip(liveRun(err));
    throw err;
  }
  try {
    clusterLock = lockCluster(cluster, opts.command ?? 'faultline recover');
  } catch (err) {
    j.close();
    if (err instanceof LockHeld) return skip(`cluster ${cluster.name} is in use by pid ${err.owner.pid} (${err.owner.command}); try again when it ends`);
    throw err;
  }
  try {
    // no API check here: a fault may have taken the API server down, and its revert works through the nodes
    let kube: KubeClients;
    try {
      kube = deps.connect(cluster);
    } catch (err) {
      return skip(`cannot reach cluster ${cluster.name} (context ${cluster.context}): ${errorMessage(err)}`);
    }
    const ctx = { runId, cluster, kube, provider: deps.provider(cluster, j.openEntries()), log: deps.log };
    const res = await revertEntries(ctx, inRunOrder(j.openEntries()), deps.faults, j);
    out.reverted = res.reverted.map((r) => `${r.id}: ${r.what}`);
    out.failed = res.failed.map((f) => `${f.id}: ${f.error}`);
    out.open = j.openEntries().length > 0;
    return out;
  } finally {
    clusterLock.release();
    j.close();
  }
}

function liveRun(err: LockHeld): string {
  return `run is still going: pid ${err.owner.pid} (${err.owner.command}, since ${err.owner.since}); stop it first (Ctrl-C reverts), or wait for it`;
}

/** undefined when recover may change the journal's cluster; 'gone' when the cluster was faultline's and no longer
 *  exists; otherwise why not. */
async function mayChange(j: RunJournal, deps: RecoverDeps, opts: RecoverOptions): Promise<string | 'gone' | undefined> {
  const { cluster, allowedBy } = j.file;
  const viaFlag = allowedBy === 'allow-context' || (!allowedBy && !cluster.createdByFaultline);
  if (viaFlag) {
    if ((opts.allowContexts ?? []).includes(cluster.context)) return undefined;
    return `its faults are in context ${cluster.context}, which faultline did not create; pass --allow-context ${cluster.context} to revert them`;
  }
  const listerFor = deps.listerFor ?? ((kind) => deps.provider({ ...cluster, provider: kind }));
  const { record, distrust } = await verifiedRecord({ name: cluster.name, provider: cluster.provider }, listerFor);
  if (record) return undefined;
  const names = await listerFor(cluster.provider)
    .list()
    .catch(() => undefined);
  if (names && !names.includes(cluster.name)) return 'gone';
  return distrust ?? `faultline has no record of cluster ${cluster.name}; pass --allow-context ${cluster.context} if it is meant to be changed`;
}
