// Polling helpers for end-to-end tests on real clusters, and the built CLI run as a real process.
import { expect } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KindProvider } from '../../harness/cluster/kind.js';
import { repoRoot } from '../../harness/core/paths.js';

export async function waitFor<T>(what: string, timeoutMs: number, probe: () => Promise<T | false | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    // a probe that never settles (a connection accepted and never answered) must not outlive the deadline
    let timer: NodeJS.Timeout | undefined;
    const unanswered = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('the last probe did not answer')), Math.max(deadline - Date.now(), 0));
    });
    try {
      const v = await Promise.race([probe(), unanswered]);
      if (v) return v;
    } catch (err) {
      last = err;
    } finally {
      clearTimeout(timer);
    }
    await new Promise((r) => setTimeout(r, 2000));
  }
  throw new Error(`timed out after ${timeoutMs / 1000}s waiting for ${what}${last ? `: ${String(last)}` : ''}`);
}

const ready = (p: k8s.V1Pod) =>
  p.status?.phase === 'Running' && (p.status.containerStatuses ?? []).every((c) => c.ready);

/** Waits until every pod in the namespaces is Running and Ready (at least one pod each); returns them. */
export async function waitForSystemPods(core: k8s.CoreV1Api, namespaces: string[], timeoutMs: number): Promise<k8s.V1Pod[]> {
  return waitFor(`Running and Ready pods in ${namespaces.join(', ')}`, timeoutMs, async () => {
    const all: k8s.V1Pod[] = [];
    for (const namespace of namespaces) {
      const pods = (await core.listNamespacedPod({ namespace })).items;
      if (pods.length === 0 || !pods.every(ready)) return false;
      all.push(...pods);
    }
    return all;
  });
}

export async function waitForPodPhase(core: k8s.CoreV1Api, namespace: string, name: string, phase: string, timeoutMs: number) {
  return waitFor(`pod ${namespace}/${name} ${phase}`, timeoutMs, async () => {
    const p = await core.readNamespacedPod({ name, namespace });
    if (p.status?.phase === 'Failed' && phase !== 'Failed') throw new Error(`pod ${name} failed`);
    return p.status?.phase === phase ? p : false;
  });
}

export function podSpec(
  name: string,
  node: string | undefined,
  command: string[],
  opts: { labels?: Record<string, string>; restartPolicy?: string } = {},
): k8s.V1Pod {
  return {
    metadata: { name, labels: opts.labels ?? { app: name } },
    spec: {
      ...(node ? { nodeName: node } : {}),
      restartPolicy: opts.restartPolicy ?? 'Always',
      tolerations: [{ operator: 'Exists' }],
      terminationGracePeriodSeconds: 1,
      containers: [{ name, image: 'docker.io/library/busybox:latest', imagePullPolicy: 'IfNotPresent', command }],
    },
  };
}

// ---- the built CLI, run as a real process (`npm run build` first) ----


export const CLI_MAIN = join(repoRoot(), 'dist', 'harness', 'cli', 'main.js');

export function assertBuilt(): void {
  if (!existsSync(CLI_MAIN)) throw new Error(`${CLI_MAIN} missing: run \`npm run build\` before the e2e tests`);
}

export function e2eTempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `faultline-e2e-${prefix}-`));
}

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** non-empty stderr lines */
  lines: string[];
  ms: number;
}

export interface CliProcess {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** resolves with the first stderr line matching re (rejects on exit or timeout first) */
  waitForLine(re: RegExp, timeoutMs: number): Promise<string>;
  /** resolves when the process has exited (rejects after timeoutMs, leaving it running) */
  exited(timeoutMs: number): Promise<CliResult>;
}

/** Starts `node dist/harness/cli/main.js ...args` with the test's environment on top of this process's.
 *  Every stderr line is echoed to the test's stderr with a tag, so a failing run can be read. */
export function startCli(args: string[], env: NodeJS.ProcessEnv, tag = 'cli'): CliProcess {
  const started = Date.now();
  const child = spawn(process.execPath, [CLI_MAIN, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  let pending = '';
  const lineWaiters: Array<{ re: RegExp; resolve(l: string): void }> = [];
  const seen: string[] = [];
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => {
    err += d;
    pending += d;
    const parts = pending.split('\n');
    pending = parts.pop()!;
    for (const line of parts) {
      seen.push(line);
      if (process.env.FAULTLINE_E2E_QUIET !== '1') process.stderr.write(`[${tag}] ${line}\n`);
      for (const w of [...lineWaiters]) if (w.re.test(line)) w.resolve(line);
    }
  });
  const done = new Promise<CliResult>((resolve) => {
    child.on('close', (code, signal) => {
      const lines = err.split('\n').filter(Boolean);
      resolve({ code, signal, stdout: out, stderr: err, lines, ms: Date.now() - started });
    });
  });
  const withTimeout = <T>(p: Promise<T>, ms: number, what: string) =>
    new Promise<T>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`timed out after ${ms / 1000}s waiting for ${what}`)), ms);
      p.then((v) => (clearTimeout(t), resolve(v)), (e) => (clearTimeout(t), reject(e)));
    });
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    waitForLine: (re, timeoutMs) => {
      const hit = seen.find((l) => re.test(l));
      if (hit) return Promise.resolve(hit);
      const line = new Promise<string>((resolve) => lineWaiters.push({ re, resolve }));
      const exitFirst = done.then((r) => {
        throw new Error(`faultline ${args.join(' ')} exited (code ${r.code}, signal ${r.signal}) before printing ${re}; stderr:\n${r.stderr}`);
      });
      return withTimeout(Promise.race([line, exitFirst]), timeoutMs, `stderr line ${re}`);
    },
    exited: (timeoutMs) => withTimeout(done, timeoutMs, `faultline ${args.join(' ')} to exit`),
  };
}

/** Runs the CLI to completion. */
export async function runCli(args: string[], env: NodeJS.ProcessEnv, timeoutMs = 120_000, tag = 'cli'): Promise<CliResult> {
  const p = startCli(args, env, tag);
  try {
    return await p.exited(timeoutMs);
  } catch (err) {
    p.child.kill('SIGKILL');
    throw err;
  }
}

/** What a run that did not pass says about itself, from its report.json: every scenario that did not pass,
 *  its reason and the stages that failed, so a failing suite's log starts from the cause. */
export function whyNotPassed(reportDir: string): string {
  let report: { scenarios: Array<{ id: string; status: string; reason?: string; stages: Array<{ name: string; status: string; message?: string }> }> };
  try {
    report = JSON.parse(readFileSync(join(reportDir, 'report.json'), 'utf8'));
  } catch (err) {
    return `no report in ${reportDir}: ${(err as Error).message}`;
  }
  const lines: string[] = [];
  for (const sc of report.scenarios.filter((x) => x.status !== 'passed')) {
    lines.push(`${sc.id}: ${sc.status}${sc.reason ? `: ${sc.reason}` : ''}`);
    for (const st of sc.stages.filter((x) => x.status === 'failed')) lines.push(`  ${st.name} failed: ${st.message ?? ''}`);
  }
  return lines.join('\n') || 'every scenario passed';
}

/** Expects a `faultline run` to have exited 0; when it did not, the failure message carries whyNotPassed. */
export function expectPassed(res: CliResult, reportDir: string): void {
  expect({ exit: res.code, why: res.code === 0 ? '' : whyNotPassed(reportDir) }).toEqual({ exit: 0, why: '' });
}

/** Cluster names from `kind get clusters` (the real binary faultline uses). */
export async function kindClusters(): Promise<string[]> {
  return new KindProvider().list();
}

/** The cluster a `faultline run` on a new cluster says it created, from its stderr. */
export function runCluster(stderr: string): string | undefined {
  return stderr.match(/on a new kind cluster (faultline-[a-z0-9-]+)/)?.[1];
}

/** afterAll of a suite whose run made its own cluster: delete that cluster if the run left it (a failed run),
 *  then the suite's temp folder, unless FAULTLINE_KEEP_CLUSTER asks to keep both for a look. */
export async function cleanUpRun(cluster: string | undefined, stateDir: string, tmp: string): Promise<void> {
  if (process.env.FAULTLINE_KEEP_CLUSTER) return;
  if (cluster && (await kindClusters()).includes(cluster)) {
    // the provider forgets the cluster in the state dir the run recorded it in
    process.env.FAULTLINE_STATE_DIR = stateDir;
    await new KindProvider().delete(cluster);
  }
  rmSync(tmp, { recursive: true, force: true });
}

/** SIGKILL for the CLI processes a suite started that have not exited (a test that failed half-way). */
export function killStillRunning(started: CliProcess[]): void {
  for (const p of started) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
}

/** For suites whose cluster comes from `faultline cluster up`: kill the CLI processes still running, undo what
 *  they left (`recover`, when asked: e.g. an upstream container outside the cluster), delete the cluster through
 *  the CLI (the provider as a fallback) and the temp dir. FAULTLINE_KEEP_CLUSTER keeps both. */
export async function cleanUpClusterUp(o: { started: CliProcess[]; created: boolean; name: string; env: NodeJS.ProcessEnv; stateDir: string; tmp: string; recover?: boolean }): Promise<void> {
  killStillRunning(o.started);
  if (process.env.FAULTLINE_KEEP_CLUSTER) return;
  if (o.created) {
    if (o.recover) await runCli(['recover'], o.env, 10 * 60_000, 'recover').catch(() => undefined);
    await runCli(['cluster', 'down', o.name], o.env, 10 * 60_000, 'cluster-down').catch(() => undefined);
    if ((await kindClusters()).includes(o.name)) {
      process.env.FAULTLINE_STATE_DIR = o.stateDir;
      await new KindProvider().delete(o.name);
    }
  }
  rmSync(o.tmp, { recursive: true, force: true });
}

/** The tokens of the straces that the runs with this state dir journaled (etcd-fsync-delay's record, or each
 *  member's record of etcd-members-fsync-delay: every strace record holds one). */
export function journaledStraceTokens(stateDir: string): string[] {
  const dir = join(stateDir, 'journal');
  if (!existsSync(dir)) return [];
  const text = readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .map((f) => readFileSync(join(dir, f), 'utf8'))
    .join('\n');
  return [...text.matchAll(/"token":\s*"(faultline-etcd-fsync-[0-9a-f]+)"/g)].map((m) => m[1]!);
}

/** The straces the runs with this state dir started that are still running on this machine ("pid: cmdline").
 *  Only their own: e2e lanes run at the same time, and another lane's slow-disk fault may be in place right now.
 *  Throws when those runs journaled no strace at all, so the check cannot pass for want of anything to look for. */
export function faultlineStraces(stateDir: string): string[] {
  const tokens = journaledStraceTokens(stateDir);
  if (!tokens.length) throw new Error(`no strace journaled under ${stateDir}: nothing to look for`);
  return readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p))
    .flatMap((p) => {
      try {
        const cmd = readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0').join(' ');
        return tokens.some((t) => cmd.includes(t)) ? [`${p}: ${cmd}`] : [];
      } catch {
        return []; // gone
      }
    });
}
