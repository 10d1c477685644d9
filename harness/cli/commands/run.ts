import type { Command } from 'commander';
import { connect } from '../../cluster/kube.js';
import { clusterCleanCheck } from '../../engine/clean-check.js';
import { clusterName } from '../../cluster/naming.js';
import { makeProvider } from '../../cluster/registry.js';
import { KubeDeployer } from '../../engine/deploy.js';
import { UserError, errorMessage } from '../../core/errors.js';
import { InputFileError, assertWritableDir } from '../../core/files.js';
import { readClusterRecords } from '../../cluster/records.js';
import type { ClusterRef } from '../../cluster/types.js';
import { listJournals, openJournalsOn, type AllowedBy } from '../../engine/journal.js';
import { builtinRegistries, type Registries } from '../../engine/registries.js';
import type { LoadedScenario } from '../../engine/scenario.js';
import { assertInjectionAllowed } from '../../engine/safety.js';
import { parseFaultParams, resolveScenarios, withFaultParams } from '../../engine/scenario-loader.js';
import { HOLD_ENV, holdAfterApplyMs } from '../../engine/hold.js';
import { withAlerting } from '../../engine/alerting.js';
import { chooseNodeAccess, NODE_ACCESS_MODES, withNodeAccess, withNodeAgents } from '../../engine/node-agents.js';
import { asDrill } from '../../engine/drill.js';
import { drillPrinter } from '../drill-output.js';
import { runSuite, type ClusterTarget } from '../../engine/suite.js';
import { durationsFrom, parseShard, pickShard } from '../../engine/shard.js';
import { readReportFile, writeReportFiles } from '../report-file.js';
import { FORMATS, render, type Format } from '../../report/render.js';
import { EXIT, collect, connectChecked, newRunId, parseChoice, parseProvider, progressPrinter, providerReady, resolveExistingTarget, say, signalExit, trapSignals, type SignalDeps, out } from '../common.js';

export interface RunFlags {
  all?: boolean;
  provider?: string;
  context?: string;
  allowContext: string[];
  keep?: boolean;
  cluster?: string;
  image?: string;
  reportDir?: string;
  output: string;
  /** --fault-param key=value, for a single scenario */
  faultParam?: string[];
  /** leave stdout to the caller (bench prints its own table) */
  quiet?: boolean;
  /** deploy the alerting stack (docs/alerts.md); implied by the two below */
  alerts?: boolean;
  alertRules?: string[];
  expectAlert?: string[];
  /** the team's own Prometheus and Alertmanager, read-only */
  prometheus?: string;
  alertmanager?: string;
  /** the team's own remediation, for a single scenario */
  runbookExec?: string;
  /** `faultline drill`: the seconds people have to fix it */
  drill?: number;
  /** --shard I/N: this job's part of the chosen scenarios */
  shard?: string;
  /** reports whose measured durations balance the shards */
  durations?: string[];
  /** auto, provider or agent */
  nodeAccess?: string;
  agentImage?: string;
  /** --parallel N: scenarios of isolation "namespace" at once on one cluster */
  parallel?: string;
}

/** Where a run (or a drill) happens, what it changes, and where its report goes. */
export function withTargetOptions(cmd: Command, noun: 'run' | 'drill'): Command {
  return cmd
    .option('--provider <kind>', 'cluster provider: kind, k3d or existing', 'kind')
    .option('--context <name>', 'use this kubeconfig context instead of creating a cluster')
    .option('--allow-context <name>', 'allow injection into this context (repeatable)', collect, [])
    .option('--cluster <name>', 'reuse a cluster made by `faultline cluster up`')
    .option('--keep', `keep the cluster (and victim namespace) after the ${noun}`)
    .option('--image <ref>', 'kind node image for a new cluster')
    .option('--node-access <mode>', "how node-level faults reach nodes: auto (the provider's own, docker exec on kind; agents when --agent-image is given), provider, or agent (a privileged pod per node, through the API)", 'auto')
    .option('--agent-image <ref>', "image of the node agent pods (needs nsenter, strace and sh); default on clusters faultline makes: the forged one")
    .option('--report-dir <dir>', 'write report.json, junit.xml, report.md and report.html there')
    .option('-o, --output <format>', `stdout format: ${FORMATS.join(', ')}`, 'text')
    .option('--fault-param <key=value>', "override one of the scenario's fault params, or a set-up fault's as TYPE.key (repeatable; one scenario only)", collect, []);
}

/** The alerting stack faultline deploys, or the team's own. */
export function withAlertOptions(cmd: Command): Command {
  return cmd
    .option('--alerts', 'deploy Prometheus and Alertmanager with the standard etcd and Kubernetes alerts, and report which fired and when')
    .option('--alert-rules <file>', 'your own Prometheus rule file or PrometheusRule manifest, checked with promtool first (repeatable; implies --alerts)', collect, [])
    .option('--prometheus <url>', 'read alerts from your own Prometheus instead (read-only; nothing is deployed; expected alerts must be its rules)')
    .option('--alertmanager <url>', 'with --prometheus: also report which alerts reached your Alertmanager');
}

export function registerRun(program: Command): void {
  const cmd = program
    .command('run')
    .description('reproduce incidents end to end: provision, deploy victim, inject, detect, remediate, verify, revert')
    .argument('[scenario...]', 'scenario ids (see `faultline list`)')
    .option('--all', 'run every scenario')
    .option('--shard <I/N>', 'run only the I-th of N deterministic parts of the chosen scenarios (a CI matrix: one job per part)')
    .option('--durations <report>', 'with --shard: balance the parts by the scenario times of earlier reports (report.json or its folder; repeatable)', collect, [])
    .option('--parallel <n>', 'run up to n scenarios of isolation "namespace" (docs/scenarios.md) at once on a cluster; the rest still run alone', '1');
  withAlertOptions(withTargetOptions(cmd, 'run'))
    .option('--runbook-exec <command>', "your own remediation instead of the runbook's (sh -c, with KUBECONFIG and FAULTLINE_* set; the runbook's verify decides; one scenario only)")
    .option('--expect-alert <name[=seconds]>', 'an alert that must fire within that many seconds of the fault (default 1200); the fault is held for it (repeatable; implies --alerts)', collect, [])
    .addHelpText(
      'after',
      `
Examples:
  faultline run statefulset-env-conflict            new kind cluster, deleted afterwards
  faultline run --all --report-dir out -o junit     every scenario, all report files
  faultline run --all --parallel 2                  namespace-isolated scenarios two at a time
  faultline run --all --shard 2/3 --durations last/report.json --report-dir shard-2
                                                    the second of three CI jobs; join them with \`faultline report merge\`
  faultline run statefulset-env-conflict --cluster faultline-dev --keep
  faultline run etcd-slow-disk --fault-param delayMs=2000     a slower disk than the scenario's 500 ms
  faultline run statefulset-env-conflict --provider existing --context staging --allow-context staging
  faultline run etcd-liveness-kill --context staging --allow-context staging --agent-image REGISTRY/faultline-node-agent:1
                                                    node-level faults on any cluster, through agent pods
  faultline run etcd-slow-disk --alert-rules team-rules.yaml --expect-alert EtcdWalFsyncSlow=120
  faultline run etcd-slow-disk --cluster dev --prometheus http://127.0.0.1:9090 --expect-alert EtcdFsyncSlow=300
  faultline run statefulset-env-conflict --runbook-exec ./fix-postgres.sh

--runbook-exec gets KUBECONFIG, FAULTLINE_CONTEXT, FAULTLINE_RUN_ID, FAULTLINE_NAMESPACE, FAULTLINE_RESOURCE
(namespace/Kind/name of the finding) and FAULTLINE_FINDING_JSON; its exit code, time and last 4 KiB of output
(redacted) go in the report.

Exit codes: 0 all passed, 1 a scenario failed, 2 bad input (nothing changed), 130/143/129 interrupted (SIGINT, SIGTERM, SIGHUP).

Test hook: ${HOLD_ENV}=<ms> holds the inject stage that long after the fault is applied (stderr line
"faultline: holding <ms>ms after apply ..."), so tests can send SIGINT/SIGKILL while the fault is in place.`,
    )
    .action(async (ids: string[], flags: RunFlags) => {
      process.exitCode = await run(ids, flags);
    });
}

/** --shard I/N: this job's part, balanced by the durations of earlier reports when given */
export function withShard(scenarios: LoadedScenario[], flags: Pick<RunFlags, 'shard' | 'durations'>): LoadedScenario[] {
  if (flags.shard === undefined) {
    if (flags.durations?.length) throw new UserError('--durations needs --shard', 'add --shard I/N, or drop --durations');
    return scenarios;
  }
  const shard = parseShard(flags.shard);
  const mine = pickShard(scenarios, shard, durationsFrom((flags.durations ?? []).map(readReportFile)));
  say(`shard ${shard.index}/${shard.count}: ${mine.length ? mine.map((s) => s.id).join(', ') : 'no scenario falls to it'}`);
  return mine;
}

/** --parallel N: a whole number from 1 (one scenario at a time) to 8 */
export function parseParallel(raw: string | undefined): number {
  if (raw === undefined) return 1;
  const n = Number(raw);
  if (!/^\d+$/.test(raw.trim()) || n < 1 || n > 8) throw new UserError(`--parallel "${raw}" is not a whole number from 1 to 8`, 'e.g. --parallel 2');
  return n;
}

/** --runbook-exec applies to one scenario: a team's script fixes one failure */
export function withRunbookExec(scenarios: LoadedScenario[], command: string | undefined): LoadedScenario[] {
  if (command === undefined) return scenarios;
  if (!command.trim()) throw new UserError('--runbook-exec was given an empty command', 'pass the command that remediates');
  if (scenarios.length !== 1) throw new UserError('--runbook-exec needs exactly one scenario', 'run the scenarios one at a time');
  const sc = scenarios[0]!;
  if (sc.recovery === 'self') throw new UserError(`${sc.id} recovers on its own: it runs no runbook`, 'drop --runbook-exec');
  return [{ ...sc, runbook: { ...sc.runbook, exec: command } }];
}

/** --fault-param applies to one scenario: the same key may mean different things to different faults */
export function withOverrides(scenarios: LoadedScenario[], pairs: string[], registries: Registries): LoadedScenario[] {
  if (pairs.length === 0) return scenarios;
  if (scenarios.length !== 1) throw new UserError('--fault-param needs exactly one scenario', 'run the scenarios one at a time');
  return [withFaultParams(scenarios[0]!, parseFaultParams(pairs), registries)];
}

export async function run(ids: string[], flags: RunFlags): Promise<number> {
  // everything is validated before the first change
  const format = parseChoice(flags.output, FORMATS, '--output') as Format;
  const kind = parseProvider(flags.provider);
  if (flags.all && ids.length) throw new UserError('both --all and scenario ids given', 'pass one or the other');
  const parallel = parseParallel(flags.parallel);
  const registries = builtinRegistries();
  const chosen = withRunbookExec(withOverrides(withShard(resolveScenarios(ids, !!flags.all, registries), flags), flags.faultParam ?? [], registries), flags.runbookExec);
  const existing = resolveExistingTarget(flags);
  const access = chooseNodeAccess(parseChoice(flags.nodeAccess ?? 'auto', NODE_ACCESS_MODES, '--node-access'), existing ? existing.provider : kind, flags.agentImage);
  const scenarios = withNodeAgents(await withAlerting(flags.drill === undefined ? chosen : [asDrill(chosen, flags.drill)], flags), access);
  try {
    holdAfterApplyMs();
  } catch (err) {
    throw new UserError(errorMessage(err), `unset ${HOLD_ENV} (a test hook)`);
  }
  // found now, not after the whole run (or never: a recursive mkdir under /proc does not return)
  if (flags.reportDir) checkedReportDir(flags.reportDir);
  let target: ClusterTarget;
  let allowedBy: AllowedBy | undefined;
  const runId = newRunId();
  if (existing) {
    allowedBy = await assertInjectionAllowed(existing, flags.allowContext);
    assertNoFaultsLeft(existing);
    await connectChecked(existing);
    target = { mode: 'reuse', ref: existing };
  } else {
    if (kind === 'existing') throw new UserError('--provider existing needs --context', 'pass --context NAME --allow-context NAME');
    await providerReady(kind);
    // run id "20250101-120000-ab12" gives cluster "faultline-120000-ab12"
    target = { mode: 'create', name: clusterName(runId.split('-').slice(1).join('-')), ...(flags.image ? { image: flags.image } : {}) };
  }
  const base = makeProvider(existing ? existing.provider : kind, say);
  const provider = await withNodeAccess(base, access, connect, existing);
  const controller = new AbortController();
  const untrap = trapSignals(controller, leftBehindBy(runId, target));
  const output = flags.drill === undefined ? { onProgress: progressPrinter(Date.now(), scenarios.length > 1), log: say } : drillPrinter();
  say(`${flags.drill === undefined ? 'run' : 'drill'} ${runId}: ${scenarios.map((s) => s.id).join(', ')} on ${target.mode === 'reuse' ? `${target.ref.provider} cluster ${target.ref.name}` : `a new ${kind} cluster ${target.name}`}`);
  const report = await runSuite(
    scenarios,
    {
      provider,
      registries,
      connect,
      deployer: new KubeDeployer(undefined, registries.fixtures),
      onProgress: output.onProgress,
      log: output.log,
    },
    { runId, target, keep: !!flags.keep, signal: controller.signal, parallel, cleanCheck: clusterCleanCheck(base, connect), command: `faultline ${flags.drill === undefined ? 'run' : 'drill'} ${scenarios.map((s) => s.id).join(' ')} (run ${runId})`, ...(allowedBy ? { allowedBy } : {}) },
  );
  untrap();
  if (flags.reportDir) {
    writeReportFiles(flags.reportDir, report);
    say(`reports written to ${flags.reportDir}`);
  }
  if (!flags.quiet) out(render(report, format));
  if (controller.signal.aborted) return signalExit(controller.signal.reason);
  return report.scenarios.some((s) => s.status === 'failed') ? EXIT.failed : EXIT.ok;
}

/** A report directory that exists (made if need be) and takes files; bad input otherwise. */
export function checkedReportDir(dir: string): void {
  try {
    assertWritableDir(dir);
  } catch (err) {
    if (err instanceof InputFileError) throw new UserError(`--report-dir ${err.message}`, 'pass a directory faultline can write');
    throw err;
  }
}

/** Bad input when another run's faults are still on this cluster: they would be captured as its "original". */
export function assertNoFaultsLeft(ref: ClusterRef): void {
  const left = openJournalsOn(ref);
  if (left.length === 0) return;
  const runs = left.map((j) => j.file.runId);
  throw new UserError(
    `cluster ${ref.name} still holds faults of run ${runs.join(', ')} (open journal entries: ${left.flatMap((j) => j.openEntries().map((e) => e.id)).join(', ')})`,
    `undo them first with \`faultline recover --run ${runs[0]}\``,
  );
}

/** What a second signal leaves in place, read from disk at that moment: open journal entries of this run, and the
 *  clusters it created that still have a record. */
export function leftBehindBy(runId: string, target: ClusterTarget): SignalDeps {
  const ours = () => listJournals().journals.filter((j) => j.file.runId === runId || j.file.runId.startsWith(`${runId}-`));
  const clusters = () =>
    target.mode === 'create' ? readClusterRecords().filter((r) => r.name === target.name || r.name.startsWith(`${target.name}-`)).map((r) => r.name) : [];
  return {
    leftBehind: () => [
      ...ours().flatMap((j) => j.openEntries().map((e) => `fault ${e.id} (${e.faultType}, ${e.state}) on cluster ${j.file.cluster.name}`)),
      ...clusters().map((c) => `cluster ${c}`),
    ],
    undo: () => [
      ...ours().filter((j) => j.openEntries().length > 0).map((j) => `faultline recover --run ${j.file.runId}`),
      ...clusters().map((c) => `faultline cluster down ${c}`),
    ],
  };
}
