// One scenario on a provisioned cluster: deploy → steady state → inject → detect → diagnose → remediate →
// verify → revert → teardown. Revert runs whatever happened before it, including an abort.
import type { ClusterRef, Provider } from '../cluster/types.js';
import type { KubeClients } from '../cluster/kube.js';
import type { Finding } from '../detectors/types.js';
import type { RunbookRegistry } from '../runbooks/registry.js';
import type { Diagnosis } from '../runbooks/types.js';
import { MAX_SECONDS } from '../core/durations.js';
import { deadlineKey, type StageName } from '../core/stages.js';
import type { ScenarioReport, StageReport } from '../report/types.js';
import type { RunContext } from '../cluster/context.js';
import type { Deployer } from './deploy.js';
import { applyJournaled, type JournalEntry, type RunJournal } from './journal.js';
import { scanAll } from '../detectors/registry.js';
import { waitForFindings } from './detect-wait.js';
import { revertEntries } from './revert.js';
import { victimNamespace } from '../faults/victim-namespace.js';
import { pollUntil, sleep } from '../core/poll.js';
import type { Registries } from './registries.js';
import { runLoadPhase } from './load-phases.js';
import { loadLine } from '../report/format.js';
import type { LoadResult } from '../load/types.js';
import type { LoadedScenario } from './scenario.js';
import { realClock, runStage, skippedStage, type Clock, type StageFn } from './stage.js';

export interface ScenarioDeps {
  provider: Provider;
  registries: Registries;
  connect(ref: ClusterRef): KubeClients;
  deployer: Deployer;
  clock?: Clock;
  pollIntervalMs?: number;
  onProgress?(scenario: string, stage: StageName, msg: string): void;
  log?(msg: string): void;
  /** test hook (see holdAfterApplyMs); defaults to $FAULTLINE_TEST_HOLD_AFTER_APPLY_MS */
  holdAfterApplyMs?: number;
}

export interface ScenarioRunInput {
  scenario: LoadedScenario;
  runId: string;
  cluster: ClusterRef;
  journal: RunJournal;
  runSignal: AbortSignal;
  /** provision stage already run by the suite */
  provision: StageReport;
  /** the suite's cleanup for this scenario; gets whether this run created the victim namespace */
  teardown(ctx: RunContext | undefined, createdNamespace: boolean): StageFn;
  /** --keep: the namespace this run made stays, and its journal entry is closed as kept */
  keep: boolean;
}

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

function pickFinding(findings: Finding[], runbooks: RunbookRegistry, runbookId: string): Finding | undefined {
  return findings.find((f) => f.runbook === runbookId && runbooks.has(f.runbook)) ?? findings[0];
}

export async function runScenario(input: ScenarioRunInput, deps: ScenarioDeps): Promise<ScenarioReport> {
  const { scenario: sc, runId, cluster, journal, runSignal } = input;
  const clock = deps.clock ?? realClock;
  const pollMs = deps.pollIntervalMs ?? 2_000;
  const log = deps.log ?? (() => {});
  // a bad hook value fails the inject stage before anything is planned (the CLI rejects it earlier, exit 2)
  let holdMs = 0;
  let holdError: unknown;
  try {
    holdMs = deps.holdAfterApplyMs ?? holdAfterApplyMs();
  } catch (err) {
    holdError = err;
  }
  const report: ScenarioReport = {
    id: sc.id,
    title: sc.title,
    status: 'passed',
    incident: sc.incident,
    ttdSeconds: null,
    ttrSeconds: null,
    standardAlert: sc.standardAlert,
    ...(sc.recovery === 'self' ? { recovery: 'self' as const } : {}),
    stages: [input.provision],
    findings: [],
    integrity: [],
  };
  let stopped: string | undefined = input.provision.status === 'passed' ? undefined : `provision ${input.provision.status}`;
  let base: RunContext | undefined;
  const injected: JournalEntry[] = [];
  let createdNamespace = false;
  let namespaceEntry: JournalEntry | undefined;
  let injectEnd: number | undefined;
  let detectedAt: number | undefined;
  let detected: Finding[] = [];

  const ctxFor = (signal: AbortSignal): RunContext => ({ ...base!, signal });
  const journaledApply = (ctx: RunContext, type: string, params: unknown, id: string): Promise<JournalEntry> =>
    applyJournaled(ctx, deps.registries.faults, journal, { scenario: sc.id, id, type, params }, (e) => injected.push(e));
  const selfHeal = sc.recovery === 'self';
  const recordLoad = (r: LoadResult) => (report.load ??= []).push(r);
  const stage = async (name: StageName, fn: StageFn, always = false): Promise<StageReport> => {
    const deadline = sc.stageDeadlines[deadlineKey(name)] + (name === 'inject' ? holdMs / 1000 : 0);
    const st =
      stopped && !always
        ? skippedStage(name, deadline, `skipped: ${stopped}`, clock)
        : await runStage(name, deadline, fn, {
            clock,
            runSignal: always ? undefined : runSignal,
            onProgress: (n, m) => deps.onProgress?.(sc.id, n, m),
          });
    report.stages.push(st);
    if (st.status === 'failed' || st.status === 'interrupted') stopped ??= `${name} ${st.status}`;
    return st;
  };

  await stage('deploy', async (s) => {
    base = { runId, cluster, provider: deps.provider, kube: deps.connect(cluster), log };
    for (const [i, st] of sc.victim.setup.entries()) {
      s.progress(`setting up ${st.type}`);
      await journaledApply(ctxFor(s.signal), st.type, st.params, `${sc.id}-setup-${i + 1}`);
    }
    // journaled before it exists (a killed run's namespace is deleted by recover), and known as this run's as
    // soon as it does, so a deploy interrupted while waiting for readiness still lets teardown delete it
    const ctx = ctxFor(s.signal);
    const out = await deps.deployer.deploy(ctx, sc, s, async (ns) => {
      const step = { scenario: sc.id, id: `${sc.id}-namespace`, type: victimNamespace.type, params: { namespace: ns } };
      await applyJournaled(ctx, deps.registries.faults, journal, step, (e) => (namespaceEntry = e));
      createdNamespace = true;
    });
    createdNamespace ||= out.createdNamespace;
    return out.message;
  });

  await stage('steady-state', async (s) => {
    const ctx = ctxFor(s.signal);
    await pollUntil(
      async (n) => {
        const findings = await scanAll(ctx, deps.registries.detectors);
        if (findings.length === 0) return true;
        s.progress(`waiting for detectors to be quiet (poll ${n}): ${findings.map((f) => f.summary).join(' | ')}`);
        return undefined;
      },
      { intervalMs: pollMs, signal: s.signal },
    );
    for (const c of sc.integrity) {
      const check = deps.registries.integrity.get(c.check)!;
      const params = check.paramsSchema.parse(c.params);
      const res = await pollUntil(() => check.write(ctx, params), { intervalMs: pollMs, signal: s.signal, onMiss: (n, e) => s.progress(`integrity ${c.check} write (try ${n}): ${e ?? 'not yet'}`) });
      report.integrity.push(res);
      if (!res.ok) throw new Error(`integrity ${c.check}: ${res.details}`);
    }
    const before = await runLoadPhase(ctx, sc, 'before', s.signal, deps.registries.loadProbes);
    if (before) {
      recordLoad(before);
      if (before.failed > 0) throw new Error(`the workload fails before the fault: ${loadLine(before)}`);
    }
    return `all ${deps.registries.detectors.size} detector(s) quiet; ${sc.integrity.length} integrity marker(s) written${before ? `; ${loadLine(before)}` : ''}`;
  });

  await stage('inject', async (s) => {
    if (holdError) throw holdError;
    const ctx = ctxFor(s.signal);
    const entry = await journaledApply(ctx, sc.fault.type, sc.fault.params, `${sc.id}-${injected.length + 1}`);
    if (holdMs > 0) {
      log(`holding ${holdMs}ms after apply (${HOLD_ENV})`);
      await sleep(holdMs, s.signal);
    }
    injectEnd = clock.now();
    return `${sc.fault.type} applied (journal ${journal.file.runId}, entry ${entry.id})`;
  });

  // detect, diagnose and remediate: skipped when the scenario claims the cluster recovers on its own
  const runbookStage = async (name: StageName, fn: StageFn): Promise<void> => {
    if (!selfHeal || stopped) {
      await stage(name, fn);
      return;
    }
    const why = 'skipped: recovery "self" (the cluster must recover with no detection or runbook action)';
    report.stages.push(skippedStage(name, sc.stageDeadlines[deadlineKey(name)], why, clock));
  };
  await runbookStage('detect', async (s) => {
    const ctx = ctxFor(s.signal);
    // traffic during the fault, alongside detection: its own failures are not detection's concern (they are
    // logged), and it stops with the stage when detection fails
    const loadStop = new AbortController();
    const onStageAbort = () => loadStop.abort(s.signal.reason);
    s.signal.addEventListener('abort', onStageAbort, { once: true });
    const during = sc.load
      ? runLoadPhase(ctx, sc, 'during', loadStop.signal, deps.registries.loadProbes).catch((err: Error) => {
          log(`load during the fault: ${err.message}`);
          return undefined;
        })
      : undefined;
    try {
      detected = await waitForFindings(ctx, sc, deps.registries.detectors, s, pollMs);
    } catch (err) {
      loadStop.abort(err);
      await during;
      throw err;
    } finally {
      s.signal.removeEventListener('abort', onStageAbort);
    }
    detectedAt = clock.now();
    report.ttdSeconds = round((detectedAt - injectEnd!) / 1000);
    report.findings = detected.map(({ detector, summary, rootCause, evidence, runbook }) => ({ detector, summary, rootCause, evidence, runbook }));
    const load = await during;
    if (load) recordLoad(load);
    return `${detected.map((f) => f.summary).join(' | ')}${load ? `; ${loadLine(load)}` : ''}`;
  });

  let diagnosis: Diagnosis | undefined;
  const runbook = deps.registries.runbooks.get(sc.runbook.id)!;
  await runbookStage('diagnose', async (s) => {
    const finding = pickFinding(detected, deps.registries.runbooks, sc.runbook.id);
    if (!finding) throw new Error('no finding to diagnose');
    diagnosis = await runbook.diagnose(ctxFor(s.signal), finding);
    report.diagnosis = { summary: diagnosis.summary, details: diagnosis.details };
    return diagnosis.summary;
  });

  await runbookStage('remediate', async (s) => {
    const res = await runbook.remediate(ctxFor(s.signal), diagnosis!);
    report.remediation = { mode: res.mode, actions: res.actions };
    if (res.mode === 'manual') throw new Error(`runbook ${runbook.id} has no automatic remediation: ${res.actions.join('; ')}`);
    return res.actions.join('; ');
  });

  await stage('verify', async (s) => {
    const ctx = ctxFor(s.signal);
    const params = { namespace: sc.victim.namespace, ...sc.runbook.params };
    const result = await pollUntil(
      async (n) => {
        const v = await runbook.verify(ctx, params);
        if (v.ok && sc.load) {
          // recovery counts only when the workload serves traffic again without a single failure
          const after = (await runLoadPhase(ctx, sc, 'after', s.signal, deps.registries.loadProbes))!;
          recordLoad(after);
          v.details.push(loadLine(after));
          if (sc.load.requireCleanAfter && after.failed > 0) v.ok = false;
        }
        if (v.ok) return v;
        s.progress(`waiting for recovery (poll ${n}): ${v.details.join('; ')}`);
        return undefined;
      },
      { intervalMs: pollMs, signal: s.signal },
    );
    report.ttrSeconds = round((clock.now() - (selfHeal ? injectEnd! : detectedAt!)) / 1000);
    for (const c of sc.integrity) {
      const check = deps.registries.integrity.get(c.check)!;
      const params = check.paramsSchema.parse(c.params);
      // exec errors (pod restarting) are retried; a definite "marker missing" is data loss and fails at once
      const res = await pollUntil(() => check.check(ctx, params), { intervalMs: pollMs, signal: s.signal, onMiss: (n, e) => s.progress(`integrity ${c.check} (try ${n}): ${e ?? 'not yet'}`) });
      report.integrity.push(res);
      if (!res.ok) throw new Error(`integrity ${c.check}: ${res.details}`);
    }
    return `${selfHeal ? `recovered on its own ${report.ttrSeconds}s after the fault: ` : ''}${result.details.join('; ')}`;
  });

  await stage(
    'revert',
    async (s) => {
      if (injected.length === 0) return 'nothing was injected';
      const res = await revertEntries(ctxFor(s.signal), injected, deps.registries.faults, journal);
      const done = res.reverted.map((r) => `${r.id} reverted`);
      if (res.failed.length > 0) {
        throw new Error(`revert failed for ${res.failed.map((f) => `${f.id}: ${f.error}`).join('; ')}${done.length ? ` (${done.join('; ')})` : ''}`);
      }
      return done.join('; ');
    },
    true,
  );

  await stage('teardown', input.teardown(base, createdNamespace), true);
  if (namespaceEntry) await settleNamespaceEntry(namespaceEntry, input.keep, base, journal, deps);

  const bad = report.stages.find((st) => st.status === 'failed' || st.status === 'interrupted');
  if (bad) {
    report.status = 'failed';
    report.reason = `${bad.name} ${bad.status}${bad.message ? `: ${bad.message}` : ''}`;
  }
  return report;
}

/** After teardown the namespace entry is settled: kept (--keep) closes it; otherwise its revert makes sure the
 *  namespace is gone (teardown normally deleted it already; a deleted cluster closed it). */
async function settleNamespaceEntry(entry: JournalEntry, keep: boolean, base: RunContext | undefined, journal: RunJournal, deps: ScenarioDeps): Promise<void> {
  const now = journal.file.entries.find((e) => e.id === entry.id);
  if (!now || now.state === 'reverted' || now.state === 'closed') return;
  if (keep) return journal.setState(entry.id, 'closed', 'kept with --keep');
  if (!base) return;
  const res = await revertEntries(base, [now], deps.registries.faults, journal);
  for (const f of res.failed) deps.log?.(`namespace left in place: ${f.error}; \`faultline recover --run ${journal.file.runId}\` deletes it`);
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}
