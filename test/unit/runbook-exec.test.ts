// --runbook-exec: the team's command run for real with `sh -c` on this machine (no cluster: the context is a
// plain object), its environment, its bounded and redacted output, and its stop on the stage's deadline.
import { afterEach, describe, expect, test } from '@jest/globals';
import type { RunContext } from '../../harness/cluster/context.js';
import { clearSecretValues, registerSecretValue } from '../../harness/core/redact.js';
import type { Finding } from '../../harness/detectors/types.js';
import { execEnv, OUTPUT_BYTES, runbookExec } from '../../harness/runbooks/exec.js';

const ctx = { runId: 'r-1', cluster: { provider: 'kind', name: 'c', context: 'kind-c', kubeconfigPath: '/tmp/kubeconfig-c', createdByFaultline: true } } as unknown as RunContext;
const finding: Finding = { detector: 'statefulset-env-conflict', severity: 'critical', summary: 's', rootCause: 'r', evidence: ['e'], runbook: 'statefulset-env-conflict', resources: ['harbor/StatefulSet/postgresql'] };

afterEach(() => clearSecretValues());

describe('--runbook-exec', () => {
  test('the command gets the kubeconfig, the run and the finding in its environment', async () => {
    const env = execEnv(ctx, 'harbor', finding);
    const r = await runbookExec(ctx, 'echo "$KUBECONFIG $FAULTLINE_CONTEXT $FAULTLINE_RUN_ID $FAULTLINE_NAMESPACE $FAULTLINE_RESOURCE"; echo "$FAULTLINE_FINDING_JSON" | grep -c statefulset-env-conflict', env, new AbortController().signal);
    expect(r.exitCode).toBe(0);
    expect(r.output.split('\n')).toEqual(['/tmp/kubeconfig-c kind-c r-1 harbor harbor/StatefulSet/postgresql', '1']);
  });

  test('a failing command is reported with its exit code, not thrown', async () => {
    const r = await runbookExec(ctx, 'echo nope >&2; exit 3', execEnv(ctx, 'harbor', finding), new AbortController().signal);
    expect(r.exitCode).toBe(3);
    expect(r.output).toBe('nope');
  });

  test('output is the last 4 KiB, and redacted', async () => {
    registerSecretValue('hunter2-very-secret');
    const r = await runbookExec(ctx, 'head -c 20000 /dev/zero | tr "\\\\0" x; echo; echo pw=hunter2-very-secret', execEnv(ctx, 'harbor', finding), new AbortController().signal);
    expect(r.output.length).toBeLessThanOrEqual(OUTPUT_BYTES + 3);
    expect(r.output.startsWith('...')).toBe(true);
    expect(r.output).not.toContain('hunter2-very-secret');
  });

  test("the stage's deadline stops it", async () => {
    const ac = new AbortController();
    setTimeout(() => ac.abort(new Error('deadline')), 300);
    const r = await runbookExec(ctx, 'sleep 30', execEnv(ctx, 'harbor', finding), ac.signal);
    expect(r.timedOut).toBe(true);
    expect(r.durationSeconds).toBeLessThan(10);
  });
});
