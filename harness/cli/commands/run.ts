import { existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { connect } from '../../cluster/kube.js';
import { clusterName } from '../../cluster/naming.js';
import { makeProvider } from '../../cluster/registry.js';
import { KubeDeployer } from '../../engine/deploy.js';
import { UserError, errorMessage } from '../../core/errors.js';
import { builtinRegistries, type Registries } from '../../engine/registries.js';
import type { LoadedScenario } from '../../engine/scenario.js';
import { assertInjectionAllowed } from '../../engine/safety.js';
import { displayPath, parseFaultParams, resolveScenarios, withFaultParams } from '../../engine/scenario-loader.js';
import { HOLD_ENV, holdAfterApplyMs } from '../../engine/scenario-run.js';
import { runSuite, type ClusterTarget } from '../../engine/suite.js';
import { FORMATS, REPORT_FILES, render, type Format } from '../../report/render.js';
import {
  EXIT,
  collect,
  connectChecked,
  newRunId,
  parseChoice,
  parseProvider,
  progressPrinter,
  providerReady,
  resolveExistingTarget,
  signalExit,
  trapSignals,
} from '../common.js';

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
}

export function registerRun(program: Command): void {
  program
    .command('run')
    .description('reproduce incidents end to end: provision, deploy victim, inject, detect, remediate, verify, revert')
    .argument('[scenario...]', 'scenario ids (see `faultline list`)')
    .option('--all', 'run every scenario')
    .option('--provider <kind>', 'cluster provider: kind, k3d or existing', 'kind')
    .option('--context <name>', 'use this kubeconfig context instead of creating a cluster')
    .option('--allow-context <name>', 'allow injection into this context (repeatable)', collect, [])
    .option('--cluster <name>', 'reuse a cluster made by `faultline cluster up`')
    .option('--keep', 'keep the cluster (and victim namespace) after the run')
    .option('--image <ref>', 'kind node image for a new cluster')
    .option('--report-dir <dir>', 'write report.json, junit.xml, report.md and report.html there')
    .option('-o, --output <format>', `stdout format: ${FORMATS.join(', ')}`, 'text')
    .option('--fault-param <key=value>', "override one of the scenario's fault params (repeatable; one scenario only)", collect, [])
    .addHelpText(
      'after',
      `
Examples:
  faultline run statefulset-env-conflict            new kind cluster, deleted afterwards
  faultline run --all --report-dir out -o junit     every scenario, all report files
  faultline run statefulset-env-conflict --cluster faultline-dev --keep
  faultline run etcd-slow-disk --fault-param delayMs=2000     a slower disk than the scenario's 500 ms
  faultline run statefulset-env-conflict --provider existing --context staging --allow-context staging

Exit codes: 0 all passed, 1 a scenario failed, 2 bad input (nothing changed), 130/143 interrupted.

Test hook: ${HOLD_ENV}=<ms> holds the inject stage that long after the fault is applied (stderr line
"faultline: holding <ms>ms after apply ..."), so tests can send SIGINT/SIGKILL while the fault is in place.`,
    )
    .action(async (ids: string[], flags: RunFlags) => {
      process.exitCode = await run(ids, flags);
    });
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
  const registries = builtinRegistries();
  const scenarios = withOverrides(resolveScenarios(ids, !!flags.all, registries), flags.faultParam ?? [], registries);
  try {
    holdAfterApplyMs();
  } catch (err) {
    throw new UserError(errorMessage(err), `unset ${HOLD_ENV} (a test hook)`);
  }
  if (flags.reportDir && existsSync(flags.reportDir) && !statSync(flags.reportDir).isDirectory()) {
    throw new UserError(`--report-dir ${flags.reportDir} is not a directory`, 'pass a directory path');
  }
  let target: ClusterTarget;
  const existing = resolveExistingTarget(flags);
  const runId = newRunId();
  if (existing) {
    assertInjectionAllowed(existing, flags.allowContext);
    await connectChecked(existing);
    target = { mode: 'reuse', ref: existing };
  } else {
    if (kind === 'existing') throw new UserError('--provider existing needs --context', 'pass --context NAME --allow-context NAME');
    await providerReady(kind);
    if (kind === 'kind') {
      for (const sc of scenarios) {
        if (sc.clusterConfigPath && !existsSync(sc.clusterConfigPath)) {
          throw new UserError(`scenario ${sc.id} needs kind config ${displayPath(sc.clusterConfigPath)}, which does not exist`, 'restore it or fix cluster.config');
        }
      }
    }
    // run id "20250101-120000-ab12" gives cluster "faultline-120000-ab12"
    target = { mode: 'create', name: clusterName(runId.split('-').slice(1).join('-')), ...(flags.image ? { image: flags.image } : {}) };
  }
  const provider = makeProvider(existing ? existing.provider : kind, (m) => process.stderr.write(`faultline: ${m}\n`));
  const controller = new AbortController();
  const untrap = trapSignals(controller, runId);
  const progress = progressPrinter(Date.now(), scenarios.length > 1);
  process.stderr.write(`faultline: run ${runId}: ${scenarios.map((s) => s.id).join(', ')} on ${target.mode === 'reuse' ? `${target.ref.provider} cluster ${target.ref.name}` : `a new ${kind} cluster ${target.name}`}\n`);
  const report = await runSuite(
    scenarios,
    {
      provider,
      registries,
      connect,
      deployer: new KubeDeployer(undefined, registries.fixtures),
      onProgress: progress,
      log: (m) => process.stderr.write(`faultline: ${m}\n`),
    },
    { runId, target, keep: !!flags.keep, signal: controller.signal },
  );
  untrap();
  if (flags.reportDir) {
    mkdirSync(flags.reportDir, { recursive: true });
    for (const [file, fmt] of REPORT_FILES) writeFileSync(join(flags.reportDir, file), render(report, fmt));
    process.stderr.write(`faultline: reports written to ${flags.reportDir}\n`);
  }
  if (!flags.quiet) process.stdout.write(render(report, format));
  if (controller.signal.aborted) return signalExit(controller.signal.reason);
  return report.scenarios.some((s) => s.status === 'failed') ? EXIT.failed : EXIT.ok;
}
