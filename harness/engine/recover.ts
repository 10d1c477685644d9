// `faultline recover`: undo what a killed (or still running, with --force) run left applied.
import type { ClusterRef, Provider } from '../cluster/types.js';
import type { KubeClients } from '../cluster/kube.js';
import { pidAlive } from '../cluster/node-access.js';
import type { FaultRegistry } from '../faults/registry.js';
import { errorMessage } from '../core/errors.js';
import { listJournals, type RunJournal } from './journal.js';

export interface RecoverDeps {
  faults: FaultRegistry;
  connect(ref: ClusterRef): KubeClients;
  provider(ref: ClusterRef): Provider;
  log(msg: string): void;
  journalDir?: string;
  isAlive?(pid: number): boolean;
}

export interface RecoverOutcome {
  runId: string;
  skipped?: string;
  reverted: string[];
  failed: string[];
}

export async function recover(deps: RecoverDeps, opts: { runId?: string; force?: boolean } = {}): Promise<RecoverOutcome[]> {
  const alive = deps.isAlive ?? pidAlive;
  const journals = listJournals(deps.journalDir).filter((j) => (opts.runId ? j.file.runId === opts.runId : j.openEntries().length > 0));
  const outcomes: RecoverOutcome[] = [];
  for (const j of journals) outcomes.push(await recoverOne(j, deps, alive, !!opts.force));
  return outcomes;
}

async function recoverOne(j: RunJournal, deps: RecoverDeps, alive: (pid: number) => boolean, force: boolean): Promise<RecoverOutcome> {
  const { runId, pid, cluster } = j.file;
  const out: RecoverOutcome = { runId, reverted: [], failed: [] };
  const open = j.openEntries();
  if (open.length === 0) {
    out.skipped = 'nothing left to revert';
    return out;
  }
  if (pid !== process.pid && alive(pid) && !force) {
    out.skipped = `run is still going (pid ${pid}); pass --force to revert anyway`;
    return out;
  }
  let kube: KubeClients;
  try {
    kube = deps.connect(cluster);
  } catch (err) {
    out.skipped = `cannot reach cluster ${cluster.name} (context ${cluster.context}): ${errorMessage(err)}`;
    return out;
  }
  j.adopt();
  const ctx = { runId, cluster, kube, provider: deps.provider(cluster), log: deps.log };
  // newest first: later faults may build on earlier ones
  for (const e of [...open].reverse()) {
    const fault = deps.faults.get(e.faultType);
    if (!fault) {
      j.setState(e.id, 'revert-failed', `unknown fault type ${e.faultType}`);
      out.failed.push(`${e.id}: unknown fault type ${e.faultType}`);
      continue;
    }
    try {
      await fault.revert(ctx, e.record);
      j.setState(e.id, 'reverted');
      out.reverted.push(`${e.id}: ${fault.describe(e.record)}`);
    } catch (err) {
      j.setState(e.id, 'revert-failed', errorMessage(err));
      out.failed.push(`${e.id}: ${errorMessage(err)}`);
    }
  }
  return out;
}
