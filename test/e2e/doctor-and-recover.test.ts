// End to end on one kind cluster from `faultline cluster up`: doctor on a healthy cluster, then a run of
// statefulset-env-conflict held right after the fault is applied (test hook FAULTLINE_TEST_HOLD_AFTER_APPLY_MS)
// and stopped with SIGINT (the run reverts, exit 130), then with SIGKILL (the fault stays; `faultline recover`
// undoes it from the journal). The built CLI is used (`npm run build` first); the cluster is checked with the
// client library. The cluster is the shared 1+1 one (cluster-pool.ts), proven clean before this file gets it.
//
// The victim namespace: the first run creates `harbor` (labelled managed-by faultline, annotated with its run
// id); both runs pass --keep, so it stays after the revert (docs/scenarios.md, "The run"), and the second run
// deploys into it again. `recover` undoes faults only, so it leaves the namespace as well; the pool deletes it
// in afterAll.
import { afterAll, beforeAll, describe, expect, jest, test } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { repoRoot } from '../../harness/core/paths.js';
import {
  assertBuilt,
  e2eTempDir,
  kindClusters,
  runCli,
  startCli,
  waitFor,
  waitForSystemPods,
  type CliProcess,
  type CliResult,
} from './support.js';
import { sharedCluster } from './cluster-pool.js';

jest.setTimeout(30 * 60_000);

const shared = sharedCluster('one-worker');
const tmp = e2eTempDir('dr');
const { stateDir, env, name } = shared;
const holdEnv = { ...env, FAULTLINE_TEST_HOLD_AFTER_APPLY_MS: '600000' };
const HOLD_LINE = /^faultline: holding 600000ms after apply \(FAULTLINE_TEST_HOLD_AFTER_APPLY_MS\)$/;
const NS = 'harbor';
const STS = 'postgresql';
const POD0 = 'postgresql-0';
const started: CliProcess[] = [];
let core: k8s.CoreV1Api;
let apps: k8s.AppsV1Api;

const notFound = (err: unknown) => (err as { code?: number }).code === 404;

async function passwordEnv(): Promise<{ env: k8s.V1EnvVar[]; pw: k8s.V1EnvVar }> {
  const sts = await apps.readNamespacedStatefulSet({ name: STS, namespace: NS });
  const env = sts.spec!.template.spec!.containers.find((c) => c.name === 'postgresql')!.env ?? [];
  return { env, pw: env.find((e) => e.name === 'POSTGRES_PASSWORD')! };
}

function journal(runId: string): any {
  return JSON.parse(readFileSync(join(stateDir, 'journal', `${runId}.json`), 'utf8'));
}

async function doctor(): Promise<CliResult> {
  return runCli(['doctor', '--cluster', name], env, 120_000, 'doctor');
}

async function waitDoctorQuiet(): Promise<CliResult> {
  return waitFor('doctor to be quiet', 8 * 60_000, async () => {
    const d = await doctor();
    return d.code === 0 && /no findings/.test(d.stdout) ? d : false;
  });
}

async function waitPod0Ready(): Promise<k8s.V1Pod> {
  return waitFor(`pod ${NS}/${POD0} Running and Ready`, 5 * 60_000, async () => {
    const p = await core.readNamespacedPod({ name: POD0, namespace: NS });
    return p.status?.phase === 'Running' && !p.metadata?.deletionTimestamp && (p.status.containerStatuses ?? []).every((c) => c.ready) ? p : false;
  });
}

/** The controller cannot make pod -0 from the broken template: once the deleted pod has terminated it is absent. */
async function waitPod0Gone(): Promise<void> {
  await waitFor(`pod ${NS}/${POD0} gone`, 2 * 60_000, async () =>
    core.readNamespacedPod({ name: POD0, namespace: NS }).then(
      () => false,
      (err) => {
        if (notFound(err)) return true;
        throw err;
      },
    ),
  );
}

/** Starts a held run and returns it with its run id once the fault is applied and the hold has begun. */
async function heldRun(tag: string, reportDir: string): Promise<{ run: CliProcess; runId: string }> {
  const run = startCli(['run', 'statefulset-env-conflict', '--cluster', name, '--keep', '--report-dir', reportDir], holdEnv, tag);
  started.push(run);
  const first = await run.waitForLine(/^faultline: run \S+: /, 60_000);
  const runId = first.match(/^faultline: run (\S+): /)![1]!;
  await run.waitForLine(HOLD_LINE, 15 * 60_000);
  return { run, runId };
}

/** While held: the fault is really in place, journalled as applied (after the namespace, when this run made
 *  it), and doctor names it. */
async function expectFaultApplied(runId: string, pid: number | undefined, madeNamespace: boolean): Promise<void> {
  const { pw } = await passwordEnv();
  expect(pw.value).toBeTruthy();
  expect(pw.valueFrom?.secretKeyRef).toEqual({ name: 'postgresql', key: 'postgres-password' });
  await waitPod0Gone();
  const j = journal(runId);
  expect(j.pid).toBe(pid);
  expect(j.entries.map((e: any) => `${e.id} ${e.state}`)).toEqual([...(madeNamespace ? ['statefulset-env-conflict-namespace applied'] : []), 'statefulset-env-conflict-1 applied']);
  const d = await doctor();
  expect(d.code).toBe(1);
  expect(d.stdout).toContain('statefulset-env-conflict');
  expect(d.stdout).toContain('POSTGRES_PASSWORD');
}

/** The env list as the scenario's manifest deploys it (the journal holds names and positions only). */
function manifestEnv(): k8s.V1EnvVar[] {
  const file = join(repoRoot(), 'scenarios', 'statefulset-env-conflict', 'manifests', 'postgresql.yaml');
  const sts = parseAllDocuments(readFileSync(file, 'utf8')).map((d) => d.toJS()).find((o) => o?.kind === 'StatefulSet');
  return sts.spec.template.spec.containers.find((c: k8s.V1Container) => c.name === 'postgresql').env;
}

/** After revert or recover: the deployed template is back, the pod runs, the journal says so and holds no
 *  value, doctor is quiet. */
async function expectRestored(runId: string, namespaceState?: string): Promise<void> {
  const deployed = manifestEnv();
  const { env, pw } = await passwordEnv();
  expect(pw.value).toBeTruthy();
  expect(pw.valueFrom).toBeUndefined();
  expect(env).toEqual(deployed);
  expect(JSON.stringify(journal(runId))).not.toContain(pw.value!);
  expect(journal(runId).entries.map((e: any) => `${e.id} ${e.state}`)).toEqual([
    ...(namespaceState ? [`statefulset-env-conflict-namespace ${namespaceState}`] : []),
    'statefulset-env-conflict-1 reverted',
  ]);
  await waitPod0Ready();
  await waitDoctorQuiet();
}

async function victimNamespace(): Promise<k8s.V1Namespace | undefined> {
  return core.readNamespace({ name: NS }).catch((err) => {
    if (notFound(err)) return undefined;
    throw err;
  });
}

beforeAll(async () => {
  assertBuilt();
  const kubeconfig = await shared.acquire();
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(kubeconfig!);
  core = kc.makeApiClient(k8s.CoreV1Api);
  apps = kc.makeApiClient(k8s.AppsV1Api);
});

afterAll(() => shared.release({ started, tmp }));

describe('doctor, SIGINT and SIGKILL during an applied fault, recover', () => {
  test('doctor exits 0 with no findings on the healthy new cluster', async () => {
    expect(await kindClusters()).toContain(name);
    await waitForSystemPods(core, ['kube-system', 'kube-flannel', 'local-path-storage'], 6 * 60_000);
    const d = await doctor();
    expect(d.code).toBe(0);
    expect(d.stdout).toMatch(/no findings/);
    expect(await victimNamespace()).toBeUndefined(); // nothing deployed yet
  });

  test('SIGINT while the fault is applied: exit 130, the run reverts, the cluster is as before the fault', async () => {
    const reportDir = join(tmp, 'report-sigint');
    const { run, runId } = await heldRun('run-sigint', reportDir);
    await expectFaultApplied(runId, run.child.pid, true);
    expect(run.child.exitCode).toBeNull(); // still holding: the checks above ran while the fault was in place

    run.child.kill('SIGINT');
    const r = await run.exited(5 * 60_000);
    expect(r.code).toBe(130);
    expect(r.stderr).toMatch(/SIGINT received; stopping the current stage, then reverting/);
    expect(r.lines.filter((l) => HOLD_LINE.test(l))).toHaveLength(1);
    const report = JSON.parse(readFileSync(join(reportDir, 'report.json'), 'utf8'));
    expect(report.interrupted).toBe('SIGINT');
    const st = Object.fromEntries(report.scenarios[0].stages.map((s: any) => [s.name, s]));
    expect(st.inject.status).toBe('interrupted');
    expect(st.detect.status).toBe('skipped');
    expect(st.revert.status).toBe('passed');
    expect(st.revert.message).toBe('statefulset-env-conflict-1 reverted');

    await expectRestored(runId, 'closed'); // kept with --keep
    // created by this run, kept by --keep
    const ns = await victimNamespace();
    expect(ns?.metadata?.labels?.['app.kubernetes.io/managed-by']).toBe('faultline');
    expect(ns?.metadata?.annotations?.['faultline/run-id']).toBe(runId);
    expect(ns?.status?.phase).toBe('Active');
  });

  test('SIGKILL while the fault is applied: the fault stays; recover undoes it; a second recover has nothing to do', async () => {
    const before = await victimNamespace();
    expect(before).toBeDefined(); // kept by the SIGINT run; this run deploys into it again
    const { run, runId } = await heldRun('run-sigkill', join(tmp, 'report-sigkill'));
    const pid = run.child.pid;
    await expectFaultApplied(runId, pid, false);

    run.child.kill('SIGKILL');
    const r = await run.exited(60_000);
    expect(r.signal).toBe('SIGKILL');
    expect(r.code).toBeNull();
    expect(existsSync(join(tmp, 'report-sigkill', 'report.json'))).toBe(false); // it never got to write one
    // nothing undid it: the conflict is still stored and the journal entry still open
    await new Promise((res) => setTimeout(res, 5_000));
    const { pw } = await passwordEnv();
    expect(pw.value).toBeTruthy();
    expect(pw.valueFrom?.secretKeyRef?.name).toBe('postgresql');
    expect(journal(runId).entries.map((e: any) => `${e.id} ${e.state}`)).toEqual(['statefulset-env-conflict-1 applied']);
    await expect(core.readNamespacedPod({ name: POD0, namespace: NS })).rejects.toMatchObject({ code: 404 });

    const rec = await runCli(['recover'], env, 5 * 60_000, 'recover');
    expect(rec.code).toBe(0);
    const said = rec.stdout.trim().split('\n');
    expect(said).toHaveLength(1);
    expect(said[0]).toMatch(new RegExp(`^run ${runId}: reverted statefulset-env-conflict-1: StatefulSet harbor/postgresql: the valueFrom added to env POSTGRES_PASSWORD .*removed`));
    expect(journal(runId).pid).not.toBe(pid); // recover adopted the dead run's journal

    await expectRestored(runId);
    const again = await runCli(['recover'], env, 2 * 60_000, 'recover-2');
    expect(again.code).toBe(0);
    expect(again.stdout).toBe('nothing to recover\n');
    // the namespace is untouched by the killed run and by recover
    const ns = await victimNamespace();
    expect(ns?.metadata?.uid).toBe(before!.metadata!.uid);
    expect(ns?.status?.phase).toBe('Active');
  });
});
