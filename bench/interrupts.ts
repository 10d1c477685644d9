// `make bench-interrupts` (TRIALS=N, default 20; SEED=S; SCENARIOS=a,b): interrupt trials on one real kind cluster.
// Each trial runs a scenario (picked in turn) with `faultline run --cluster`, then at a random moment between the
// start of inject and the end of verify sends SIGINT (the run must revert itself) or SIGKILL (then `faultline
// recover` must undo it). Before the trials and after each one it snapshots what a fault could leave behind and
// prints what differs: one line per trial, then "N trials, K left something behind".
import * as k8s from '@kubernetes/client-node';
import { spawn } from 'node:child_process';
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { $ } from 'zx';
import { benchEnv, CACHE, CLI, cliWith, machineLine } from './common.js';

const TRIALS = Number(process.env.TRIALS ?? 20);
const SEED = Number(process.env.SEED ?? Date.now() % 100_000);
const env = benchEnv('interrupts');
const STATE = env.FAULTLINE_STATE_DIR;
const KIND = process.env.FAULTLINE_KIND ?? join(CACHE, 'bin', 'current', 'kind');

/** a small seeded generator (mulberry32), so a trial sequence can be replayed with SEED */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const random = rng(SEED);

const cli = cliWith(env);

// ---- what a fault could leave: node files, host processes and cgroups, cluster objects, journals ----

type Snapshot = Record<string, string>;

const NODE_SCRIPT = [
  'echo "## manifests"; sha256sum /etc/kubernetes/manifests/* 2>/dev/null',
  'echo "## pki"; find /etc/kubernetes/pki -type f -exec sha256sum {} + 2>/dev/null | sort -k2',
  'echo "## certs.d"; find /etc/containerd/certs.d 2>/dev/null | sort; find /etc/containerd/certs.d -type f -exec sha256sum {} + 2>/dev/null | sort -k2',
  'echo "## faultline dirs"; find /var/lib/faultline 2>/dev/null | sort',
].join('; ');

async function nodeNames(cluster: string): Promise<string[]> {
  return (await $`${KIND} get nodes --name ${cluster}`).stdout.split('\n').filter(Boolean).sort();
}

async function snapshot(cluster: string, kc: k8s.KubeConfig): Promise<Snapshot> {
  const snap: Snapshot = {};
  for (const node of await nodeNames(cluster)) snap[`node ${node}`] = (await $({ nothrow: true })`docker exec ${node} sh -c ${NODE_SCRIPT}`).stdout;
  snap['tracer processes'] = (await $({ nothrow: true })`pgrep -a strace`).stdout.trim();
  snap['blkio throttles'] = (
    await $({ nothrow: true })`sh -c ${'find /sys/fs/cgroup/blkio -name blkio.throttle.write_iops_device 2>/dev/null | while read f; do v=$(cat "$f"); [ -n "$v" ] && echo "$f $v"; done'}`
  ).stdout.trim();
  snap['upstream containers'] = (await $({ nothrow: true })`docker ps -a --filter label=app.kubernetes.io/managed-by=faultline --format {{.Names}}`).stdout.trim();
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const apps = kc.makeApiClient(k8s.AppsV1Api);
  const rbac = kc.makeApiClient(k8s.RbacAuthorizationV1Api);
  const nodes = (await core.listNode()).items;
  snap.cordons = nodes.map((n) => `${n.metadata!.name} unschedulable=${!!n.spec?.unschedulable} taints=${(n.spec?.taints ?? []).map((t) => t.key).join(',')}`).join('\n');
  const ks = 'kube-system';
  const [deps, dss] = await Promise.all([apps.listNamespacedDeployment({ namespace: ks }), apps.listNamespacedDaemonSet({ namespace: ks })]);
  snap['kube-system workloads'] = [
    ...deps.items.map((d) => `Deployment ${d.metadata!.name} generation ${d.metadata!.generation} ready ${d.status?.readyReplicas ?? 0}/${d.spec?.replicas}`),
    ...dss.items.map((d) => `DaemonSet ${d.metadata!.name} generation ${d.metadata!.generation} ready ${d.status?.numberReady ?? 0}/${d.status?.desiredNumberScheduled}`),
  ].sort().join('\n');
  const pods = (await core.listNamespacedPod({ namespace: ks })).items;
  snap['kube-system pods not ready'] = pods
    .filter((p) => !(p.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True'))
    .map((p) => p.metadata!.name)
    .sort()
    .join(', ');
  const labelSelector = 'app.kubernetes.io/managed-by=faultline';
  const labelled = [
    ...(await core.listNamespace({ labelSelector })).items.map((o) => `Namespace ${o.metadata!.name}`),
    ...(await core.listSecretForAllNamespaces({ labelSelector })).items.map((o) => `Secret ${o.metadata!.namespace}/${o.metadata!.name}`),
    ...(await core.listConfigMapForAllNamespaces({ labelSelector })).items.map((o) => `ConfigMap ${o.metadata!.namespace}/${o.metadata!.name}`),
    ...(await core.listPodForAllNamespaces({ labelSelector })).items.map((o) => `Pod ${o.metadata!.namespace}/${o.metadata!.name}`),
    ...(await rbac.listClusterRole({ labelSelector })).items.map((o) => `ClusterRole ${o.metadata!.name}`),
    ...(await rbac.listClusterRoleBinding({ labelSelector })).items.map((o) => `ClusterRoleBinding ${o.metadata!.name}`),
  ];
  snap['faultline-labelled objects'] = labelled.sort().join('\n');
  snap['open journals'] = openJournals().join('\n');
  return snap;
}

function openJournals(): string[] {
  const dir = join(STATE, 'journal');
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .flatMap((f) => {
      try {
        const j = JSON.parse(readFileSync(join(dir, f), 'utf8')) as { runId: string; entries: Array<{ id: string; state: string }> };
        return j.entries.filter((e) => e.state !== 'reverted' && e.state !== 'closed').map((e) => `${j.runId} ${e.id} ${e.state}`);
      } catch {
        return [`${f} unreadable`];
      }
    });
}

/** A snapshot once nothing in kube-system is not ready and the node controller has lifted its own taints
 *  (node.kubernetes.io/not-ready lags a new node's Ready by seconds), or 3 minutes have passed. */
async function settled(cluster: string, kc: k8s.KubeConfig): Promise<Snapshot> {
  const until = Date.now() + 180_000;
  for (;;) {
    const s = await snapshot(cluster, kc).catch(() => undefined);
    const calm = s && s['kube-system pods not ready'] === '' && !s.cordons!.includes('node.kubernetes.io/');
    if (s && (calm || Date.now() > until)) return s;
    await new Promise((r) => setTimeout(r, 5_000));
  }
}

/** Waits until a snapshot matches the baseline, or the settle time runs out (a restarted API server, a
 *  terminating namespace, pods getting Ready); returns what still differs. */
async function settledDiff(cluster: string, kc: k8s.KubeConfig, base: Snapshot, settleMs = 240_000): Promise<string[]> {
  const until = Date.now() + settleMs;
  for (;;) {
    let diff: string[];
    try {
      const now = await snapshot(cluster, kc);
      diff = Object.keys({ ...base, ...now }).filter((k) => base[k] !== now[k]).map((k) => describeDiff(k, base[k] ?? '', now[k] ?? ''));
    } catch (err) {
      diff = [`cluster API: ${(err as Error).message}`];
    }
    if (diff.length === 0 || Date.now() > until) return diff;
    await new Promise((r) => setTimeout(r, 5_000));
  }
}

function describeDiff(key: string, before: string, after: string): string {
  const b = new Set(before.split('\n').filter(Boolean));
  const a = new Set(after.split('\n').filter(Boolean));
  const added = [...a].filter((l) => !b.has(l));
  const gone = [...b].filter((l) => !a.has(l));
  return `${key}: ${[...added.map((l) => `+${l}`), ...gone.map((l) => `-${l}`)].slice(0, 4).join('; ')}`;
}

// ---- one trial ----

interface Trial {
  exit: number | string;
  /** seconds from the start of inject to the signal; undefined when the run ended before it */
  at?: number;
  /** the stage the run was in when the signal went */
  stage?: string;
  window: number;
  /** the run's last stderr line, for an exit that is not the signal's */
  last: string;
}

/** Seconds from the start of inject to the end of verify, first guessed, then learnt from the runs. */
const windows = new Map<string, number>();

function runAndInterrupt(scenario: string, cluster: string, signal: 'SIGINT' | 'SIGKILL', reportDir: string): Promise<Trial> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, 'run', scenario, '--cluster', cluster, '--report-dir', reportDir], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let buf = '';
    let injectAt: number | undefined;
    let timer: NodeJS.Timeout | undefined;
    let sent: Trial['at'];
    let stage = '';
    let sentIn: string | undefined;
    let last = '';
    const window = windows.get(scenario) ?? 60;
    const fire = () => {
      if (sent !== undefined || injectAt === undefined) return;
      sent = (Date.now() - injectAt) / 1000;
      sentIn = stage;
      child.kill(signal);
    };
    child.stderr.on('data', (d: Buffer) => {
      buf += d.toString();
      for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        if (line.trim()) last = line;
        const m = /^\[\s*\d+s\] ([a-z-]+): started$/.exec(line);
        if (!m) continue;
        stage = m[1]!;
        if (stage === 'inject') {
          injectAt = Date.now();
          timer = setTimeout(fire, random() * window * 1000);
        }
        // verify has ended: the latest moment the trial may pick
        if (stage === 'revert' && injectAt !== undefined) {
          windows.set(scenario, Math.max(5, (Date.now() - injectAt) / 1000));
          fire();
        }
      }
    });
    child.on('exit', (code, sig) => {
      clearTimeout(timer);
      resolve({ exit: code ?? sig ?? 'unknown', ...(sent !== undefined ? { at: Math.round(sent * 10) / 10 } : {}), ...(sentIn ? { stage: sentIn } : {}), window, last });
    });
  });
}

async function main(): Promise<number> {
  const list = JSON.parse((await cli(['list', '-o', 'json'])).stdout) as Array<{ id: string }>;
  const scenarios = process.env.SCENARIOS ? process.env.SCENARIOS.split(',') : list.map((s) => s.id);
  const cluster = `faultline-bench-int-${SEED}`;
  console.log(machineLine());
  console.log(`bench-interrupts: ${TRIALS} trials over ${scenarios.join(', ')}; seed ${SEED}; state ${STATE}`);
  const up = await cli(['cluster', 'up', '--name', cluster, '--config', 'kind-configs/two-workers.yaml']);
  if (up.exitCode !== 0) throw new Error(`cluster up failed: ${up.stderr.trim().split('\n').pop()}`);
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(/^kubeconfig (.+)$/m.exec(up.stdout)![1]!);
  // the baseline is the settled cluster: every kube-system pod ready (CoreDNS's second replica may lag the first)
  let base = await settled(cluster, kc);
  const dirty: string[] = [];
  try {
    for (let i = 1; i <= TRIALS; i++) {
      const scenario = scenarios[(i - 1) % scenarios.length]!;
      const signal = i % 2 === 1 ? 'SIGINT' : 'SIGKILL';
      process.stderr.write(`bench-interrupts: trial ${i}/${TRIALS} ${scenario}, ${signal}: running\n`);
      const t = await runAndInterrupt(scenario, cluster, signal, join(STATE, `trial-${i}`));
      let how = t.at === undefined ? `ran to the end (exit ${t.exit})` : `${signal} at +${t.at}s after inject (in ${t.stage}), exit ${t.exit}`;
      if (![0, 130, 'SIGKILL'].includes(t.exit)) how += ` [${t.last.slice(0, 200)}]`;
      if (signal === 'SIGKILL' && t.at !== undefined) {
        const rec = await cli(['recover']);
        how += `; recover exit ${rec.exitCode}`;
      }
      const diff = await settledDiff(cluster, kc, base);
      console.log(`trial ${i}/${TRIALS} ${scenario}: ${how}: ${diff.length === 0 ? 'nothing left' : `LEFT ${diff.join(' | ')}`}`);
      if (diff.length > 0) {
        dirty.push(`trial ${i} (${scenario}, ${signal}): ${diff.join(' | ')}`);
        // clean up for the next trial as a user would, and measure the next trial from where that leaves it
        await cli(['recover']);
        base = await settled(cluster, kc);
      }
    }
  } finally {
    await cli(['cluster', 'down', cluster]);
  }
  console.log(`${TRIALS} trials, ${dirty.length} left something behind${dirty.length ? `:\n  ${dirty.join('\n  ')}` : ''}`);
  return dirty.length === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err: Error) => {
    console.error(`bench-interrupts: ${err.message}`);
    process.exit(2);
  },
);
