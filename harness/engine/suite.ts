// A run of one or more scenarios: provisions (or reuses) a cluster per distinct cluster config, runs the
// scenarios on it in order, tears down what it created, and returns the report.
import type { ClusterRef } from '../cluster/types.js';
import { STAGE_ORDER } from '../core/stages.js';
import type { Report, ScenarioReport, StageReport } from '../report/types.js';
import type { RunContext } from '../cluster/context.js';
import { errorMessage } from '../core/errors.js';
import { openRunJournal, type RunJournal } from './journal.js';
import { toolVersion } from '../core/paths.js';
import type { LoadedScenario } from './scenario.js';
import { runScenario, type ScenarioDeps } from './scenario-run.js';
import { realClock, runStage, skippedStage, type StageFn } from './stage.js';

export type ClusterTarget = { mode: 'create'; name: string; image?: string } | { mode: 'reuse'; ref: ClusterRef };

export interface SuiteOptions {
  runId: string;
  target: ClusterTarget;
  keep: boolean;
  signal: AbortSignal;
  journal?(runId: string, cluster: ClusterRef): RunJournal;
}

/** Scenarios the provider cannot serve are skipped with the reason, never failed. */
export function missingCapability(sc: LoadedScenario, caps: ReturnType<ScenarioDeps['provider']['capabilities']>): string | undefined {
  const lacking = sc.cluster.needs.filter((n) => !caps[n]);
  return lacking.length ? `needs ${lacking.join(', ')}, which this provider does not offer` : undefined;
}

function skippedScenario(sc: LoadedScenario, reason: string): ScenarioReport {
  return {
    id: sc.id,
    title: sc.title,
    status: 'skipped',
    reason,
    incident: sc.incident,
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
  const makeJournal = opts.journal ?? openRunJournal;
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
    let ref: ClusterRef | undefined = opts.target.mode === 'reuse' ? opts.target.ref : undefined;
    const created = opts.target.mode === 'create';
    const clusterName = opts.target.mode === 'create' ? (gs.length > 1 ? `${opts.target.name}-${gi + 1}` : opts.target.name) : ref!.name;
    let provisionError: string | undefined;
    let journal: RunJournal | undefined;
    const runnable = group.filter((sc) => !missingCapability(sc, deps.provider.capabilities()));
    const lastRunnable = runnable[runnable.length - 1];
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
      const provision = await provisionStage(sc, ref, provisionError, deps, opts, clusterName, clock);
      if (provision.ref) {
        ref = provision.ref;
        if (gi === 0 || !report.cluster.nodeImage) {
          report.cluster = { provider: ref.provider, name: ref.name, ...(ref.nodeImage ? { nodeImage: ref.nodeImage } : {}) };
        }
      } else if (provision.stage.status === 'failed') provisionError = provision.stage.message;
      journal ??= ref ? makeJournal(gi === 0 ? opts.runId : `${opts.runId}-${gi + 1}`, ref) : undefined;
      const isLast = sc === lastRunnable;
      const teardown = (ctx: RunContext | undefined, createdNamespace: boolean): StageFn => async (s) => {
        const msgs: string[] = [];
        const deleteCluster = created && isLast && !opts.keep && ref !== undefined;
        if (createdNamespace && !opts.keep && !deleteCluster && ctx) {
          msgs.push(await deps.deployer.removeNamespace({ ...ctx, signal: s.signal }, sc.victim.namespace, s));
        }
        if (deleteCluster) {
          s.progress(`deleting cluster ${ref!.name}`);
          await deps.provider.delete(ref!.name);
          msgs.push(`deleted cluster ${ref!.name}`);
        } else if (created && isLast && opts.keep && ref) msgs.push(`kept cluster ${ref.name} (--keep)`);
        return msgs.join('; ') || 'nothing to tear down';
      };
      if (!ref || !journal) {
        // no cluster: every later stage is skipped, but the timeline still shows them
        const stages: StageReport[] = [provision.stage];
        for (const name of STAGE_ORDER.slice(1, -1)) {
          stages.push(skippedStage(name, 0, 'skipped: no cluster', clock));
        }
        // a create that failed or was interrupted half-way can leave node containers behind
        stages.push(
          await runStage(
            'teardown',
            sc.stageDeadlines.teardown,
            async () => {
              if (!created || opts.keep) return 'nothing to tear down';
              const left = await deps.provider.list().catch(() => [] as string[]);
              if (!left.includes(clusterName)) return 'no partial cluster left';
              await deps.provider.delete(clusterName);
              return `deleted partial cluster ${clusterName}`;
            },
            { clock, settleMs: deps.settleMs },
          ),
        );
        report.scenarios.push({ ...skippedScenario(sc, ''), status: 'failed', reason: `provision failed: ${provision.stage.message ?? ''}`, stages });
        continue;
      }
      report.scenarios.push(
        await runScenario({ scenario: sc, runId: opts.runId, cluster: ref, journal, runSignal: opts.signal, provision: provision.stage, teardown }, deps),
      );
    }
  }
  if (opts.signal.aborted) report.interrupted = String(opts.signal.reason);
  report.endedAt = new Date(clock.now()).toISOString();
  return report;
}

async function provisionStage(
  sc: LoadedScenario,
  ref: ClusterRef | undefined,
  earlierError: string | undefined,
  deps: ScenarioDeps,
  opts: SuiteOptions,
  name: string,
  clock: NonNullable<ScenarioDeps['clock']>,
): Promise<{ stage: StageReport; ref?: ClusterRef }> {
  let made: ClusterRef | undefined;
  const stage = await runStage(
    'provision',
    sc.stageDeadlines.provision,
    async (s) => {
      if (ref) return opts.target.mode === 'reuse' ? `using cluster ${ref.name} (context ${ref.context})` : `reusing cluster ${ref.name}`;
      if (earlierError) throw new Error(`cluster creation failed earlier: ${earlierError}`);
      const image = opts.target.mode === 'create' ? opts.target.image : undefined;
      made = await deps.provider.create({
        name,
        ...(sc.clusterConfigPath ? { configPath: sc.clusterConfigPath } : {}),
        ...(image ? { image } : {}),
        onProgress: s.progress,
        signal: s.signal,
      });
      return `created ${deps.provider.kind} cluster ${made.name}${made.nodeImage ? ` (image ${made.nodeImage})` : ''}`;
    },
    { clock, runSignal: opts.signal, settleMs: deps.settleMs, onProgress: (n, m) => deps.onProgress?.(sc.id, n, m) },
  );
  if (stage.status !== 'passed' && made === undefined && !ref) {
    return { stage: { ...stage, message: stage.message ?? errorMessage('provision failed') } };
  }
  return { stage, ref: ref ?? made };
}
