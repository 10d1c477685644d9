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
import type { ClusterState } from './baseline.js';
import { summarizeLeft, type CleanCheck } from './clean-check.js';
import { realClock, runStage, skippedStage, type StageFn } from './stage.js';

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
    const lastRunnable = runnable[runnable.length - 1];
    /** the reset between scenarios: the cluster's baseline, and the scenario that ran on it last */
    const reset: Reset = {
      check: opts.keep ? undefined : opts.cleanCheck,
      wanted: runnable.length > 1,
      replace: async (made) => {
        await deleteMadeCluster(made, journal ? [journal] : [], `was replaced by run ${opts.runId}: it was not proven clean`);
        clusterDeleted = false; // the caller makes it anew
      },
    };
    for (const sc of group) {
      const missing = missingCapability(sc, deps.provider.capabilities());
      if (missing) {
        report.scenarios.push(skippedScenario(sc, missing));
        continue;
      }
      if (opts.signal.aborted) {
        report.scenarios.push(skippedScenario(sc, `run interrupted by ${String(opts.signal.reason)}`));
        continue;
      }
      const provision = await provisionStage(sc, ref, provisionError, deps, opts, clusterName, clock, reset);
      ref = provision.ref;
      if (!ref && provision.stage.status === 'failed') provisionError = provision.stage.message;
      journal ??= ref ? makeJournal(runId, ref, { command, allowedBy: created ? 'created' : (opts.allowedBy ?? 'record') }) : undefined;
      if (!ref || !journal) {
        report.scenarios.push(noCluster(sc, provision.stage, clock));
        continue;
      }
      const isLast = sc === lastRunnable;
      const own = journal;
      const teardown = (ctx: RunContext | undefined, createdNamespace: boolean): StageFn => async (s) => {
        const msgs: string[] = [];
        // an interrupted run deletes the cluster it made at the scenario it stopped in: the rest are skipped
        const deleteCluster = created && (isLast || opts.signal.aborted) && !opts.keep && ref !== undefined;
        if (createdNamespace && !opts.keep && !deleteCluster && ctx) {
          msgs.push(await deps.deployer.removeNamespace({ ...ctx, signal: s.signal }, sc.victim.namespace, s));
        }
        if (deleteCluster) {
          s.progress(`deleting cluster ${ref!.name}`);
          const closed = await deleteMadeCluster(ref!, [own]);
          msgs.push(`deleted cluster ${ref!.name}`);
          if (closed.length) msgs.push(`closed the journal(s) ${closed.join(', ')}: their cluster is gone`);
        } else if (created && isLast && opts.keep && ref) msgs.push(`kept cluster ${ref.name} (--keep)`);
        return msgs.join('; ') || 'nothing to tear down';
      };
      report.scenarios.push(
        await runScenario({ scenario: sc, runId: opts.runId, cluster: ref, journal, runSignal: opts.signal, provision: provision.stage, teardown, keep: opts.keep }, deps),
      );
      reset.after = sc.id;
    }
    // interrupted between two scenarios: no teardown deleted the cluster this run made
    if (created && !opts.keep && ref && !clusterDeleted && opts.signal.aborted) {
      try {
        await deleteMadeCluster(ref, journal ? [journal] : []);
      } catch (err) {
        deps.log?.(`could not delete cluster ${ref.name} after the interrupt: ${errorMessage(err)}; run faultline cluster down ${ref.name}`);
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

/** No cluster: every later stage is skipped, but the timeline still shows them. A create that failed removed its
 *  own leftovers (ownership.createOwned), so nothing else is deleted here: the name may be someone else's. */
function noCluster(sc: LoadedScenario, provision: StageReport, clock: NonNullable<ScenarioDeps['clock']>): ScenarioReport {
  const stages: StageReport[] = [provision];
  for (const name of STAGE_ORDER.slice(1)) stages.push(skippedStage(name, 0, 'skipped: no cluster', clock));
  return { ...skippedScenario(sc, ''), status: 'failed', reason: `provision failed: ${provision.message ?? ''}`, stages };
}

interface Reset {
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
function usingMessage(ref: ClusterRef, opts: SuiteOptions): string {
  return opts.target.mode === 'reuse' ? `using cluster ${ref.name} (context ${ref.context})` : `reusing cluster ${ref.name}`;
}

async function resetBetween(ref: ClusterRef, reset: Reset, opts: SuiteOptions, progress: (m: string) => void, signal: AbortSignal): Promise<{ message: string; replace: boolean }> {
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

async function takeBaseline(ref: ClusterRef, reset: Reset, progress: (m: string) => void): Promise<void> {
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
