// A team's own remediation (--runbook-exec 'CMD', or a scenario's runbook.exec) in place of the built-in one: run
// with `sh -c` on this machine, with the cluster's kubeconfig and the finding in its environment. faultline's
// verify still decides whether the cluster recovered; the command's exit code, duration and output (redacted,
// the last 4 KiB) go in the report.
import { execa } from 'execa';
import type { RunContext } from '../cluster/context.js';
import { redactText } from '../core/redact.js';
import type { Finding } from '../detectors/types.js';

export interface RunbookExecResult {
  command: string;
  exitCode: number | null;
  durationSeconds: number;
  /** stdout and stderr as they came, redacted, the last OUTPUT_BYTES */
  output: string;
  timedOut?: boolean;
}

export const OUTPUT_BYTES = 4096;

/** The environment the command gets: the cluster's kubeconfig and context, and what was found. */
export function execEnv(ctx: RunContext, namespace: string, finding: Finding | undefined): Record<string, string> {
  return {
    KUBECONFIG: ctx.cluster.kubeconfigPath,
    FAULTLINE_CONTEXT: ctx.cluster.context,
    FAULTLINE_RUN_ID: ctx.runId,
    FAULTLINE_NAMESPACE: namespace,
    FAULTLINE_RESOURCE: finding?.resources[0] ?? '',
    FAULTLINE_FINDING_JSON: redactText(JSON.stringify(finding ?? null)),
  };
}

export async function runbookExec(ctx: RunContext, command: string, env: Record<string, string>, signal: AbortSignal): Promise<RunbookExecResult> {
  const t0 = Date.now();
  // a process group of its own: on the deadline the whole command stops, not only its shell (a child left
  // running would hold the output open)
  const child = execa('sh', ['-c', command], { env, all: true, reject: false, stdin: 'ignore', detached: true });
  let stopped = false;
  const stop = () => {
    stopped = true;
    const kill = (sig: NodeJS.Signals) => {
      try {
        if (child.pid) process.kill(-child.pid, sig);
      } catch {
        // already gone
      }
    };
    kill('SIGTERM');
    setTimeout(() => kill('SIGKILL'), 5_000).unref();
  };
  if (signal.aborted) stop();
  signal.addEventListener('abort', stop, { once: true });
  const res = await child;
  signal.removeEventListener('abort', stop);
  const all = typeof res.all === 'string' ? res.all : '';
  const tail = all.length > OUTPUT_BYTES ? `...${all.slice(-OUTPUT_BYTES)}` : all;
  return {
    command,
    exitCode: res.exitCode ?? null,
    durationSeconds: Math.round((Date.now() - t0) / 10) / 100,
    output: redactText(tail),
    ...(stopped ? { timedOut: true } : {}),
  };
}
