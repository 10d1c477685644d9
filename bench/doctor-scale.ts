// `make bench-doctor-scale` (SIZES=250,500,1000,2000): doctor's scan time and peak memory as a cluster grows. A
// single-node kind cluster gets simulated nodes from kwok (forged from sigs.k8s.io/kwok, run on the host against the
// cluster), then pods bound to them in steps, each pod with ~5 events; at each size `faultline doctor` is run and
// its wall time (median of RUNS runs, and their range) and peak RSS (VmHWM, read from /proc while it runs) printed.
// Measures and prints; asserts nothing.
import * as k8s from '@kubernetes/client-node';
import { spawn } from 'node:child_process';
import { existsSync, openSync, readFileSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { benchEnv, CACHE, CLI, cliWith, machineLine } from './common.js';

const KWOK = process.env.FAULTLINE_KWOK ?? join(CACHE, 'bin', 'current', 'kwok');

const SIZES = (process.env.SIZES ?? '250,500,1000,2000').split(',').map(Number);
const NODES = 20;
/** doctor runs per size (RUNS=...): one scan's time varies with how busy etcd is in its first window */
const RUNS = Math.max(1, Number(process.env.RUNS ?? 5));
const median = (sorted: number[]) => sorted[Math.floor(sorted.length / 2)]!;
const EVENTS_PER_POD = 5;
const NS = 'scale';
const env = benchEnv('scale');
const cli = cliWith(env);

/** Runs doctor and samples its peak resident memory (VmHWM, kB) from /proc until it exits. */
function timedDoctor(cluster: string): Promise<{ seconds: number; peakMiB: number; code: number | null; findings: number; slowest?: [string, number] }> {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const child = spawn(process.execPath, [CLI, 'doctor', '--cluster', cluster, '-o', 'json'], { env, stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    let peak = 0;
    child.stdout.on('data', (d) => (out += d));
    const sample = setInterval(() => {
      try {
        const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))?.[1];
        if (hwm) peak = Math.max(peak, Number(hwm));
      } catch {
        // exited between samples
      }
    }, 20);
    child.on('exit', (code) => {
      clearInterval(sample);
      let findings = -1;
      let slowest: [string, number] | undefined;
      try {
        const doc = JSON.parse(out) as { findings: unknown[]; collectSeconds?: Record<string, number> };
        findings = doc.findings.length;
        slowest = Object.entries(doc.collectSeconds ?? {}).sort((a, b) => b[1] - a[1])[0];
      } catch {
        // not JSON: the code says why
      }
      resolve({ seconds: (Date.now() - t0) / 1000, peakMiB: peak / 1024, code, findings, ...(slowest ? { slowest } : {}) });
    });
  });
}

async function createInBatches<T>(items: T[], make: (x: T) => Promise<unknown>, width = 20): Promise<void> {
  for (let i = 0; i < items.length; i += width) await Promise.all(items.slice(i, i + width).map(make));
}

/** Waits for kwok to report the simulated nodes Ready; a kwok that does not would make every pod Pending. */
async function nodesReady(core: k8s.CoreV1Api, nodes: string[], kwokLog: string): Promise<void> {
  const until = Date.now() + 60_000;
  for (;;) {
    const ready = (await core.listNode({ labelSelector: 'type=kwok' })).items.filter((n) => n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
    if (ready.length === nodes.length) return;
    if (Date.now() > until) throw new Error(`kwok made ${ready.length} of ${nodes.length} nodes Ready in 60 s; its log: ${kwokLog}: ${readFileSync(kwokLog, 'utf8').trim().split('\n').slice(-2).join(' / ')}`);
    await new Promise((r) => setTimeout(r, 1_000));
  }
}

/** Waits (up to 2 minutes) for kwok to report every pod Running, so each size scans the same healthy shape. */
async function podsRunning(core: k8s.CoreV1Api, size: number): Promise<void> {
  const until = Date.now() + 120_000;
  for (;;) {
    const running = (await core.listNamespacedPod({ namespace: NS, fieldSelector: 'status.phase=Running' })).items.length;
    if (running >= size) return;
    if (Date.now() > until) {
      console.log(`bench-doctor-scale: only ${running} of ${size} pods Running after 2 minutes; measuring anyway`);
      return;
    }
    await new Promise((r) => setTimeout(r, 2_000));
  }
}

async function main(): Promise<number> {
  if (!existsSync(KWOK)) throw new Error(`kwok not found at ${KWOK}; run make forge (it builds kwok from sigs.k8s.io/kwok)`);
  // the lifecycle stages kwokctl would pass (node-initialize, heartbeat with lease, pod stages); the forge writes
  // them next to the binary from the kwok module
  const KWOK_STAGES = join(realpathSync(KWOK), '..', 'stages.yaml');
  if (!existsSync(KWOK_STAGES)) throw new Error(`kwok's stages not found at ${KWOK_STAGES}; run make forge`);
  const name = `faultline-bench-scale-${process.pid}`;
  const up = await cli(['cluster', 'up', '--name', name, '--config', 'kind-configs/single.yaml']);
  if (up.exitCode !== 0) throw new Error(`cluster up failed: ${up.stderr.trim().split('\n').pop()}`);
  const kubeconfig = /^kubeconfig (.+)$/m.exec(up.stdout)![1]!;
  // kwok keeps the simulated nodes Ready and the pods bound to them Running, as a kubelet would
  const kwokLog = join(env.FAULTLINE_STATE_DIR, 'kwok.log');
  const kwok = spawn(KWOK, ['--kubeconfig', kubeconfig, '--config', KWOK_STAGES, '--node-lease-duration-seconds=40', '--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake', '--cidr=10.80.0.0/16', '--node-ip=10.80.0.1'], {
    stdio: ['ignore', openSync(kwokLog, 'a'), openSync(kwokLog, 'a')],
  });
  try {
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(kubeconfig);
    const core = kc.makeApiClient(k8s.CoreV1Api);
    await core.createNamespace({ body: { metadata: { name: NS, labels: { 'app.kubernetes.io/managed-by': 'faultline' } } } });
    const nodes = Array.from({ length: NODES }, (_, i) => `kwok-node-${i}`);
    await createInBatches(nodes, (n) =>
      core.createNode({
        body: {
          metadata: { name: n, annotations: { 'kwok.x-k8s.io/node': 'fake' }, labels: { type: 'kwok', 'kubernetes.io/hostname': n } },
          spec: { taints: [{ key: 'kwok.x-k8s.io/node', value: 'fake', effect: 'NoSchedule' }] },
          status: { allocatable: { cpu: '32', memory: '256Gi', pods: '110' }, capacity: { cpu: '32', memory: '256Gi', pods: '110' } },
        },
      }),
    );
    await nodesReady(core, nodes, kwokLog);
    console.log(machineLine());
    console.log(`bench-doctor-scale: ${NODES} kwok nodes on ${name}; ${EVENTS_PER_POD} events per pod`);
    console.log(`doctor run ${RUNS} times per size: the median scan, the range, the highest peak`);
    console.log('pods   events  scan (s)  range (s)    peak RSS (MiB)  findings');
    let have = 0;
    for (const size of SIZES) {
      const batch = Array.from({ length: size - have }, (_, i) => `app-${have + i}`);
      await createInBatches(batch, async (p) => {
        const i = Number(p.split('-')[1]);
        await core.createNamespacedPod({
          namespace: NS,
          body: {
            metadata: { name: p, labels: { app: `app-${i % 50}` } },
            spec: { nodeName: nodes[i % NODES], tolerations: [{ operator: 'Exists' }], containers: [{ name: 'app', image: 'docker.io/library/busybox:1.35', resources: { requests: { cpu: '10m', memory: '16Mi' } } }] },
          },
        });
        for (let e = 0; e < EVENTS_PER_POD; e++) {
          await core.createNamespacedEvent({
            namespace: NS,
            body: {
              metadata: { name: `${p}.${e}` },
              involvedObject: { kind: 'Pod', name: p, namespace: NS, apiVersion: 'v1' },
              reason: e < 3 ? 'Scheduled' : 'BackOff',
              message: e < 3 ? `event ${e} of ${p}` : `Back-off pulling image (simulated ${e})`,
              type: e < 3 ? 'Normal' : 'Warning',
              count: 1,
              source: { component: 'kwok-bench' },
              firstTimestamp: new Date(),
              lastTimestamp: new Date(),
            },
          });
        }
      });
      have = size;
      await podsRunning(core, size);
      const runs: Array<Awaited<ReturnType<typeof timedDoctor>>> = [];
      for (let i = 0; i < RUNS; i++) runs.push(await timedDoctor(name));
      const secs = runs.map((x) => x.seconds).sort((a, b) => a - b);
      const r = runs.find((x) => x.seconds === median(secs))!;
      const peak = Math.max(...runs.map((x) => x.peakMiB));
      const slowRun = runs.find((x) => x.seconds === secs[secs.length - 1]);
      console.log(
        `${String(size).padEnd(6)} ${String(size * EVENTS_PER_POD).padEnd(7)} ${median(secs).toFixed(2).padStart(8)}  ${`${secs[0]!.toFixed(2)}-${secs[secs.length - 1]!.toFixed(2)}`.padStart(11)}  ${peak.toFixed(0).padStart(14)}  ${r.findings}` +
          `${runs.some((x) => x.code === null || x.code > 1) ? ` (doctor exit ${runs.map((x) => x.code).join(',')})` : ''}` +
          `${slowRun?.slowest ? `  slowest run waited for ${slowRun.slowest[0]} (${slowRun.slowest[1].toFixed(2)} s)` : ''}`,
      );
    }
    return 0;
  } finally {
    kwok.kill('SIGTERM');
    await cli(['cluster', 'down', name]);
  }
}

main().then(
  (code) => process.exit(code),
  (err: Error) => {
    console.error(`bench-doctor-scale: ${err.message}`);
    process.exit(2);
  },
);
