// End to end: a team's own remediation in place of the runbook's, on the shared 1+1 kind cluster
// (cluster-pool.ts). `statefulset-env-conflict --runbook-exec` with a correct script (kubectl removes the valueFrom the
// fault added) passes, the script's exit code and output in the report; a wrong script (it changes nothing) fails
// verify, and the run still reverts. The wrong-script run uses a copy of the scenario with verify's deadline at
// 45 s, so the failure does not take verify's default 300 s. Then `faultline drill`: the "person" is the same fix
// script, run by the test 20 s after the drill says the incident is live; the drill reports that delay (and the
// recovery after it) as TTR, never names the fault while it is live, and reverts; Ctrl-C during a drill reverts.
import { afterAll, beforeAll, describe, expect, jest, test } from '@jest/globals';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import * as k8s from '@kubernetes/client-node';
import { execa } from 'execa';
import { findBinary } from '../../harness/cluster/binaries.js';
import { repoRoot } from '../../harness/core/paths.js';
import { assertBuilt, e2eTempDir, expectPassed, runCli, startCli, waitFor, type CliProcess } from './support.js';
import { sharedCluster } from './cluster-pool.js';

jest.setTimeout(30 * 60_000);

const shared = sharedCluster('one-worker');
const tmp = e2eTempDir('exec');
const { stateDir, env, name } = shared;
const started: CliProcess[] = [];
let kubeconfig: string;

const kubectl = findBinary('kubectl', 'FAULTLINE_KUBECTL')?.path ?? 'kubectl';
const FIX = join(tmp, 'fix-postgres.sh');
// what an on-call engineer would run: drop the valueFrom that conflicts with the literal value
writeFileSync(
  FIX,
  `#!/bin/sh
set -eu
ns=$FAULTLINE_NAMESPACE
i=$(${kubectl} -n "$ns" get statefulset postgresql -o jsonpath='{range .spec.template.spec.containers[0].env[*]}{.name}{"\\n"}{end}' | grep -n '^POSTGRES_PASSWORD$' | cut -d: -f1)
echo "fixing $FAULTLINE_RESOURCE: env[$((i - 1))]"
${kubectl} -n "$ns" patch statefulset postgresql --type json -p "[{\\"op\\":\\"remove\\",\\"path\\":\\"/spec/template/spec/containers/0/env/$((i - 1))/valueFrom\\"}]"
`,
  { mode: 0o755 },
);

beforeAll(async () => {
  assertBuilt();
  kubeconfig = await shared.acquire();
});

afterAll(() => shared.release({ started, tmp }));

describe('faultline run statefulset-env-conflict --runbook-exec', () => {
  test("a correct script remediates; the runbook's verify passes; the script's exit and output are in the report", async () => {
    const dir = join(tmp, 'report-fix');
    const res = await runCli(['run', 'statefulset-env-conflict', '--cluster', name, '--runbook-exec', FIX, '--report-dir', dir], env, 15 * 60_000, 'exec-fix');
    expectPassed(res, dir);
    const sc = JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8')).scenarios[0];
    expect(sc.runbookExec).toMatchObject({ command: FIX, exitCode: 0 });
    expect(sc.runbookExec.output).toContain('fixing harbor/StatefulSet/postgresql: env[4]');
    expect(sc.remediation.mode).toBe('exec');
    expect(sc.stages.find((s: any) => s.name === 'verify').status).toBe('passed');
  });

  test('a wrong script changes nothing: verify fails and the run still reverts', async () => {
    const dir = join(tmp, 'scenarios');
    cpSync(join(repoRoot(), 'scenarios', 'statefulset-env-conflict'), join(dir, 'statefulset-env-conflict'), { recursive: true });
    const file = join(dir, 'statefulset-env-conflict', 'scenario.yaml');
    writeFileSync(file, readFileSync(file, 'utf8').replace(/^ {2}verify: 300$/m, '  verify: 45'));
    const report = join(tmp, 'report-wrong');
    const res = await runCli(['run', 'statefulset-env-conflict', '--cluster', name, '--runbook-exec', 'echo "looked at $FAULTLINE_RESOURCE"', '--report-dir', report], { ...env, FAULTLINE_SCENARIOS_DIR: dir }, 15 * 60_000, 'exec-wrong');
    expect(res.code).toBe(1);
    const sc = JSON.parse(readFileSync(join(report, 'report.json'), 'utf8')).scenarios[0];
    expect(sc.runbookExec).toMatchObject({ exitCode: 0, output: 'looked at harbor/StatefulSet/postgresql' });
    const stage = (n: string) => sc.stages.find((s: any) => s.name === n);
    expect(stage('verify').status).toBe('failed');
    expect(stage('revert').status).toBe('passed');
    expect(stage('verify').deadlineSeconds).toBe(45);
  });
});

/** The lines a drill printed while the incident was live (between the live line and "the drill is over"). */
function liveLines(stderr: string): string[] {
  const lines = stderr.split('\n');
  const from = lines.findIndex((l) => / drill: the incident is live: /.test(l));
  const to = lines.findIndex((l) => /the drill is over/.test(l));
  return lines.slice(from, to < 0 ? undefined : to);
}

async function namespaceGone(ns: string): Promise<void> {
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(kubeconfig);
  const core = kc.makeApiClient(k8s.CoreV1Api);
  await waitFor(`namespace ${ns} gone`, 5 * 60_000, async () => core.readNamespace({ name: ns }).then(() => false, (e: { code?: number }) => e.code === 404));
}

describe('faultline drill statefulset-env-conflict', () => {
  test('a person who runs the fix 20 s after the incident is live: the drill reports that delay as TTR, never names the fault while live, and reverts', async () => {
    const dir = join(tmp, 'report-drill');
    const drill = startCli(['drill', 'statefulset-env-conflict', '--cluster', name, '--deadline', '5m', '--report-dir', dir], env, 'drill');
    started.push(drill);
    await drill.waitForLine(/ drill: the incident is live: /, 10 * 60_000);
    const delay = 20;
    await sleep(delay * 1000);
    const fix = await execa(FIX, { env: { KUBECONFIG: kubeconfig, FAULTLINE_NAMESPACE: 'harbor', FAULTLINE_RESOURCE: 'harbor/StatefulSet/postgresql' }, reject: false });
    expect(fix.exitCode).toBe(0);
    const res = await drill.exited(10 * 60_000);
    expectPassed(res, dir);
    const sc = JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8')).scenarios[0];
    expect(sc.recovery).toBe('drill');
    expect(sc.ttdSeconds).toBeNull();
    expect(sc.ttrSeconds).toBeGreaterThanOrEqual(delay);
    console.log(`[drill] the person fixed it ${delay}s after the live line; TTR ${sc.ttrSeconds}s (confirmed after ${sc.confirmedAfterSeconds}s)`);
    expect(sc.remediation).toBeUndefined();
    for (const n of ['detect', 'diagnose', 'remediate']) expect(sc.stages.find((s: any) => s.name === n).status).toBe('skipped');
    expect(sc.stages.find((s: any) => s.name === 'revert').status).toBe('passed');
    const live = liveLines(res.stderr);
    expect(live[0]).toContain('Harbor is down');
    expect(live.join('\n')).not.toMatch(/statefulset-env-conflict|valueFrom|POSTGRES_PASSWORD/);
    expect(res.stderr).toMatch(/the drill is over; what faultline did and saw:/);
  });

  test('Ctrl-C while the incident is live: the drill reverts the fault and removes its namespace', async () => {
    const drill = startCli(['drill', 'statefulset-env-conflict', '--cluster', name, '--deadline', '10m'], env, 'drill-sigint');
    started.push(drill);
    await drill.waitForLine(/ drill: the incident is live: /, 10 * 60_000);
    drill.child.kill('SIGINT');
    const res = await drill.exited(10 * 60_000);
    expect(res.code).toBe(130);
    const runId = /drill (\S+): statefulset-env-conflict/.exec(res.stderr)![1]!;
    const journal = JSON.parse(readFileSync(join(stateDir, 'journal', `${runId}.json`), 'utf8'));
    expect(journal.entries.map((e: any) => e.state)).toEqual(journal.entries.map(() => 'reverted'));
    await namespaceGone('harbor');
  });
});
