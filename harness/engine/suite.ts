// A run of one or more scenarios: provisions (or reuses) a cluster per distinct cluster config, runs the
// scenarios on it in order, tears down what it created, and returns the report.
import { lockCluster } from '../cluster/ownership.js';
import type { ClusterRef } from '../cluster/types.js';
import { LockHeld, type Lock } from '../core/lock.js';
import { STAGE_ORDER } from '../core/stages.js';
import type { Report, ScenarioReport, StageReport } from '../report/types.js';
import type { RunContext } from '../cluster/context.js';
import { UserError, errorMessage } from '../core/errors.js';
import { closeJournalsOf, RunJournal, type AllowedBy, type OpenOptions } from './journal.js';
import { toolVersion } from '../core/paths.js';
import { reportIncident, type LoadedScenario } from './scenario.js';
import { runScenario, type ScenarioDeps } from './scenario-run.js';
import type { CleanCheck } from './clean-check.js';
import { resetBetween, takeBaseline, usingMessage, type Reset } from './reset.js';
import { realClock, runStage, skippedStage, type StageFn } from './stage.js';
import { batches } from './batches.js';

export type ClusterTarget = { mode: 'create'; name: string; image?: string } | { mode: 'reuse'; ref: ClusterRef };

export interface SuiteOptions {
  runId: string;
  target: ClusterTarget;
  keep: boolean;
  signal: AbortSignal;
  /** how injection into a reused cluster was allowed (journaled, so recover asks the same) */
  allowedBy?: AllowedBy;
  /** the command line, named in this run's locks */
  command?: string;
  journal?(runId: string, cluster: ClusterRef, opts: OpenOptions): RunJournal;
  /** proves a cluster as it was between two scenarios of a group (clean-check.ts); without it nothing is checked */
  cleanCheck?: CleanCheck;
  /** at most this many scenarios of isolation "namespace" at once on one cluster (batches.ts); default 1 */
  parallel?: number;
}

/** Scenarios the provider cannot serve are skipped with the reason, never failed. */
export function missingCapability(sc: LoadedScenario, caps: ReturnType<ScenarioDeps['provider']['capabilities']>): string | undefined {
  const lacking = sc.cluster.needs.filter((n) => !caps[n]);
  if (!lacking.length) return undefined;
  const hint = lacking.includes('nodeExec')
    ? ' (--node-access agent with --agent-image reaches nodes through the API)'
    : lacking.includes('nodeExecWithoutApi')
      ? ' (its fault takes the API server down, and node agents are reached through it)'
      : '';
  return `needs ${lacking.join(', ')}, which this provider does not offer${hint}`;
}

function skippedScenario(sc: LoadedScenario, reason: string): ScenarioReport {
  return {
    id: sc.id,
    title: sc.title,
    status: 'skipped',
    reason,
    incident: reportIncident(sc.incident),
    ttdSeconds: null,
    ttrSeconds: null,
    standardAlert: sc.standardAlert,
    stages: [],
    findings: [],
    integrity: [],
  };
}

function groups(scenarios: LoadedScenario[], target: ClusterTarget): LoadedScenario[][] {
  if (target.mode === 'reuse') return [scenarios];
  const by = new Map<string, LoadedScenario[]>();
  for (const sc of scenarios) {
    const k = sc.clusterConfigPath ?? '';
    by.set(k, [...(by.get(k) ?? []), sc]);
  }
  return [...by.values()];
}

export async function runSuite(scenarios: LoadedScenario[], deps: ScenarioDeps, opts: SuiteOptions): Promise<Report> {
  const clock = deps.clock ?? realClock;
  const startedAt = new Date(clock.now()).toISOString();
  const report: Report = {
    schemaVersion: 1,
    tool: { name: 'faultline', version: toolVersion() },
    runId: opts.runId,
    startedAt,
    endedAt: startedAt,
    cluster: opts.target.mode === 'reuse'
      ? { provider: opts.target.ref.provider, name: opts.target.ref.name, ...(opts.target.ref.nodeImage ? { nodeImage: opts.target.ref.nodeImage } : {}) }
      : { provider: deps.provider.kind, name: opts.target.name },
    scenarios: [],
  };
  const gs = groups(scenarios, opts.target);
  for (const [gi, group] of gs.entries()) {
    const name = opts.target.mode === 'create' ? (gs.length > 1 ? `${opts.target.name}-${gi + 1}` : opts.target.name) : opts.target.ref.name;
    const runId = gi === 0 ? opts.runId : `${opts.runId}-${gi + 1}`;
    const ref = await runGroup(group, name, runId, deps, opts, report);
    if (ref && (gi === 0 || !report.cluster.nodeImage)) {
      report.cluster = { provider: ref.provider, name: ref.name, ...(ref.nodeImage ? { nodeImage: ref.nodeImage } : {}) };
    }
  }
  if (opts.signal.aborted) report.interrupted = String(opts.signal.reason);
  report.endedAt = new Date(clock.now()).toISOString();
  return report;
}

/** The scenarios of one cluster, under that cluster's lock, with one journal. Returns the cluster if there was one. */
async function runGroup(group: LoadedScenario[], clusterName: string, runId: string, deps: ScenarioDeps, opts: SuiteOptions, report: Report): Promise<ClusterRef | undefined> {
  const clock = deps.clock ?? realClock;
  const created = opts.target.mode === 'create';
  let ref: ClusterRef | undefined = opts.target.mode === 'reuse' ? opts.target.ref : undefined;
  const command = opts.command ?? `faultline run (run ${opts.runId})`;
  // the lock comes before anything changes: another run on this cluster is refused, not interleaved with
  const clusterLock = acquireClusterLock(ref ?? { provider: deps.provider.kind, name: clusterName, context: '' }, command);
  const makeJournal = opts.journal ?? ((id, c, o) => RunJournal.create(id, c, o));
  let journal: RunJournal | undefined;
  let provisionError: string | undefined;
  let clusterDeleted = false;
  /** Deletes the cluster this run made; what a failed revert left went with it, so no journal stays open for it
   *  (the run's own journals, `own`, are closed in place). Returns the journals closed. */
  const deleteMadeCluster = async (made: ClusterRef, own: RunJournal[], why = `was deleted by run ${opts.runId}`): Promise<string[]> => {
    await deps.provider.delete(made.name);
    clusterDeleted = true;
    return closeJournalsOf(made, `cluster ${made.name} ${why}`, own);
  };
  try {
    const runnable = group.filter((sc) => !missingCapability(sc, deps.provider.capabilities()));
    /** the reset between scenarios: the cluster's baseline, and the scenario that ran on it last */
    const reset: Reset = {
      check: opts.keep ? undefined : opts.cleanCheck,
      wanted: runnable.length > 1,
      replace: async (made) => {
        await deleteMadeCluster(made, journal ? [journal] : [], `was replaced by run ${opts.runId}: it was not proven clean`);
        clusterDeleted = false; // the caller makes it anew
      },
    };
    const results = new Map<LoadedScenario, ScenarioReport>();
    for (const sc of group) {
      const missing = missingCapability(sc, deps.provider.capabilities());
      if (missing) results.set(sc, skippedScenario(sc, missing));
    }
    const plan = batches(runnable, opts.parallel ?? 1);
    for (const [bi, batch] of plan.entries()) {
      if (opts.signal.aborted) {
        for (const sc of batch) results.set(sc, skippedScenario(sc, `run interrupted by ${String(opts.signal.reason)}`));
        continue;
      }
      const provision = await provisionStage(batch[0]!, ref, provisionError, deps, opts, clusterName, clock, reset);
      ref = provision.ref;
      if (!ref && provision.stage.status === 'failed') provisionError = provision.stage.message;
      journal ??= ref ? makeJournal(runId, ref, { command, allowedBy: created ? 'created' : (opts.allowedBy ?? 'record') }) : undefined;
      if (!ref || !journal) {
        for (const sc of batch) results.set(sc, noCluster(sc, provision.stage, clock));
        continue;
      }
      const reports = await runBatch({ batch, cluster: ref, journal, provision: provision.stage, created, lastBatch: bi === plan.length - 1, deleteMadeCluster }, deps, opts, clock);
      batch.forEach((sc, i) => results.set(sc, reports[i]!));
      reset.after = batch.map((sc) => sc.id).join(', ');
    }
    for (const sc of group) report.scenarios.push(results.get(sc)!);
    // interrupted between two batches, or a teardown that could not delete it: the cluster this run made is still there
    if (created && !opts.keep && ref && !clusterDeleted) {
      try {
        await deleteMadeCluster(ref, journal ? [journal] : []);
      } catch (err) {
        deps.log?.(`could not delete cluster ${ref.name}: ${errorMessage(err)}; run faultline cluster down ${ref.name}`);
      }
    }
    return ref;
  } finally {
    journal?.close();
    clusterLock.release();
  }
}

function acquireClusterLock(ref: Pick<ClusterRef, 'provider' | 'name' | 'context'>, command: string): Lock {
  try {
    return lockCluster(ref, command);
  } catch (err) {
    if (!(err instanceof LockHeld)) throw err;
    throw new UserError(
      `cluster ${ref.name} is in use by pid ${err.owner.pid} (${err.owner.command}, since ${err.owner.since})`,
      'wait for that run to end, or use another cluster',
    );
  }
}

interface Batch {
  batch: LoadedScenario[];
  cluster: ClusterRef;
  journal: RunJournal;
  /** the first scenario's: it made or proved the cluster */
  provision: StageReport;
  /** the run made the cluster */
  created: boolean;
  lastBatch: boolean;
  deleteMadeCluster(made: ClusterRef, own: RunJournal[]): Promise<string[]>;
}

/** The scenarios of one batch, at the same time on one cluster; the cluster goes with the batch's last teardown
 *  when the run made it and nothing runs on it after (the others may still be reverting before that). */
async function runBatch(b: Batch, deps: ScenarioDeps, opts: SuiteOptions, clock: NonNullable<ScenarioDeps['clock']>): Promise<ScenarioReport[]> {
  const { cluster, journal: own } = b;
  let running = b.batch.length;
  const teardown = (sc: LoadedScenario) => (ctx: RunContext | undefined, createdNamespace: boolean): StageFn => async (s) => {
    const lastOut = --running === 0;
    const msgs: string[] = [];
    // an interrupted run deletes the cluster it made at the scenario it stopped in: the rest are skipped
    const deleteCluster = b.created && (b.lastBatch || opts.signal.aborted) && lastOut && !opts.keep;
    if (createdNamespace && !opts.keep && !deleteCluster && ctx) {
      msgs.push(await deps.deployer.removeNamespace({ ...ctx, signal: s.signal }, sc.victim.namespace, s));
    }
    if (deleteCluster) {
      s.progress(`deleting cluster ${cluster.name}`);
      const closed = await b.deleteMadeCluster(cluster, [own]);
      msgs.push(`deleted cluster ${cluster.name}`);
      if (closed.length) msgs.push(`closed the journal(s) ${closed.join(', ')}: their cluster is gone`);
    } else if (b.created && b.lastBatch && lastOut && opts.keep) msgs.push(`kept cluster ${cluster.name} (--keep)`);
    return msgs.join('; ') || 'nothing to tear down';
  };
  return Promise.all(
    b.batch.map(async (sc, i) => {
      const provision = i === 0 ? b.provision : await alongsideStage(sc, b.batch[0]!, cluster, clock, opts, deps);
      return runScenario({ scenario: sc, runId: opts.runId, cluster, journal: own, runSignal: opts.signal, provision, teardown: teardown(sc), keep: opts.keep }, deps);
    }),
  );
}

/** No cluster: every later stage is skipped, but the timeline still shows them. A create that failed removed its
 *  own leftovers (ownership.createOwned), so nothing else is deleted here: the name may be someone else's. */
function noCluster(sc: LoadedScenario, provision: StageReport, clock: NonNullable<ScenarioDeps['clock']>): ScenarioReport {
  const stages: StageReport[] = [provision];
  for (const name of STAGE_ORDER.slice(1)) stages.push(skippedStage(name, 0, 'skipped: no cluster', clock));
  return { ...skippedScenario(sc, ''), status: 'failed', reason: `provision failed: ${provision.message ?? ''}`, stages };
}

async function provisionStage(
  sc: LoadedScenario,
  ref: ClusterRef | undefined,
  earlierError: string | undefined,
  deps: ScenarioDeps,
  opts: SuiteOptions,
  name: string,
  clock: NonNullable<ScenarioDeps['clock']>,
  reset: Reset,
): Promise<{ stage: StageReport; ref?: ClusterRef }> {
  let made: ClusterRef | undefined;
  let current = ref;
  const stage = await runStage(
    'provision',
    sc.stageDeadlines.provision,
    async (s) => {
      let replaced = '';
      if (current) {
        if (!reset.after) {
          await takeBaseline(current, reset, s.progress);
          return usingMessage(current, opts);
        }
        const r = await resetBetween(current, reset, opts, s.progress, s.signal);
        if (!r.replace) return r.message;
        current = undefined;
        replaced = `${r.message}; `;
      }
      if (earlierError) throw new Error(`cluster creation failed earlier: ${earlierError}`);
      const image = opts.target.mode === 'create' ? opts.target.image : undefined;
      made = await deps.provider.create({
        name,
        ...(sc.clusterConfigPath ? { configPath: sc.clusterConfigPath } : {}),
        ...(image ? { image } : {}),
        onProgress: s.progress,
        signal: s.signal,
      });
      await takeBaseline(made, reset, s.progress);
      return `${replaced}created ${deps.provider.kind} cluster ${made.name}${made.nodeImage ? ` (image ${made.nodeImage})` : ''}`;
    },
    { clock, runSignal: opts.signal, onProgress: (n, m) => deps.onProgress?.(sc.id, n, m) },
  );
  if (stage.status !== 'passed' && made === undefined && !current) {
    return { stage: { ...stage, message: stage.message ?? errorMessage('provision failed') } };
  }
  return { stage, ref: current ?? made };
}

/** The provision stage of a scenario that shares its batch's cluster: nothing is made or checked for it. */
function alongsideStage(sc: LoadedScenario, first: LoadedScenario, cluster: ClusterRef, clock: NonNullable<ScenarioDeps['clock']>, opts: SuiteOptions, deps: ScenarioDeps): Promise<StageReport> {
  return runStage('provision', sc.stageDeadlines.provision, async () => `alongside ${first.id} on cluster ${cluster.name} (isolation: namespace)`, {
    clock,
    runSignal: opts.signal,
    onProgress: (n, m) => deps.onProgress?.(sc.id, n, m),
  });
}
