// End to end: a team's own remediation in place of the runbook's, on a real 1+1 kind cluster from `faultline
// cluster up`. `statefulset-env-conflict --runbook-exec` with a correct script (kubectl removes the valueFrom the
// fault added) passes, the script's exit code and output in the report; a wrong script (it changes nothing) fails
// verify, and the run still reverts. The wrong-script run uses a copy of the scenario with verify's deadline at
// 45 s, so the failure does not take verify's default 300 s.
import { afterAll, beforeAll, describe, expect, jest, test } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { findBinary } from '../../harness/cluster/binaries.js';
import { repoRoot } from '../../harness/core/paths.js';
import { assertBuilt, cleanUpClusterUp, e2eTempDir, expectPassed, runCli, type CliProcess } from './support.js';

jest.setTimeout(30 * 60_000);

const tmp = e2eTempDir('exec');
const stateDir = join(tmp, 'state');
const env = { FAULTLINE_STATE_DIR: stateDir };
const name = `faultline-e2e-exec-${randomBytes(2).toString('hex')}`;
const started: CliProcess[] = [];
let created = false;

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
  const up = await runCli(['cluster', 'up', '--name', name, '--config', 'kind-configs/one-worker.yaml'], env, 20 * 60_000, 'cluster-up');
  created = true;
  expect(up.code).toBe(0);
});

afterAll(() => cleanUpClusterUp({ started, created, name, env, stateDir, tmp }));

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
