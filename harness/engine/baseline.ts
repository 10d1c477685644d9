// A cluster as faultline found it, and what differs from that now: the proof that lets a cluster be reused for
// the next scenario (or the next suite) only when nothing a run did is left on it. What is compared, and why:
// - the namespaces: a victim namespace, or anything else a run or a test made, still there (or still Terminating);
// - objects labelled as faultline's, at cluster scope (webhook configurations, CRDs, RBAC) and pods anywhere;
// - kube-system: each static pod's config hash (the kubelet's hash of its manifest, so a manifest changed and not
//   restored shows), each controller's pod count and images, the controllers' generations, the ConfigMaps' data,
//   and every pod Ready (in the other kube-* namespaces too);
// - each node: the sha256 of every file under /etc/kubernetes and /etc/containerd (manifests, PKI, registry
//   hosts), faultline's own folder, the nat table as the node's components keep it, and no stopped process
//   and no strace left.
// Only hashes are kept: no file's bytes and no Secret are read into a baseline.
import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { KubeClients } from '../cluster/kube.js';
import { natForCompare } from '../detectors/nat-table.js';
import { isManaged, MANAGED_BY } from '../core/labels.js';
import { errorMessage } from '../core/errors.js';
import { nodeSh, type NodeAccess } from '../cluster/node-access.js';
import { isComponentNamespace, notReadyLine, podReady, podsNotReady } from '../cluster/components.js';

export interface NodeState {
  /** path -> sha256 */
  files: Record<string, string>;
  nat: string[];
  faultlineDir: boolean;
  /** "comm (pid)" of processes stopped by a signal */
  stopped: string[];
  /** "strace (pid)" */
  tracers: string[];
}

export interface ClusterState {
  capturedAt: string;
  namespaces: string[];
  /** "pods of ReplicaSet coredns-x" / "pod etcd-n" (static) / "ConfigMap c" / "Deployment d" -> a short fingerprint */
  kubeSystem: Record<string, string>;
  notReady: string[];
  /** faultline-labelled objects: "Kind name" */
  managed: string[];
  /** every admission webhook configuration and CRD, labelled or not: "Kind name" */
  clusterObjects: string[];
  /** node name -> its state; absent where the provider has no node access */
  nodes: Record<string, NodeState>;
}

const NodeStateSchema = z.object({ files: z.record(z.string(), z.string()), nat: z.array(z.string()), faultlineDir: z.boolean(), stopped: z.array(z.string()), tracers: z.array(z.string()) });
const ClusterStateSchema = z.object({
  capturedAt: z.string(),
  namespaces: z.array(z.string()),
  kubeSystem: z.record(z.string(), z.string()),
  notReady: z.array(z.string()),
  managed: z.array(z.string()),
  clusterObjects: z.array(z.string()),
  nodes: z.record(z.string(), NodeStateSchema),
});

/** A stored baseline, checked; throws naming what is wrong. */
export function parseClusterState(data: unknown): ClusterState {
  const r = ClusterStateSchema.safeParse(data);
  if (!r.success) throw new Error(`not a cluster baseline: ${r.error.issues[0]?.path.join('.') ?? ''} ${r.error.issues[0]?.message ?? ''}`.trim());
  return r.data;
}

const short = (s: string) => createHash('sha256').update(s).digest('hex').slice(0, 12);

// Cluster-scoped kinds that outlive a namespace. Admission webhooks and CRDs are kept by name whoever made them
// (a webhook left behind changes what the next scenario sees); RBAC only where labelled as faultline's, since the
// API server and controllers add roles of their own.
const EVERY = [
  ['apiextensions.k8s.io/v1', 'CustomResourceDefinition'],
  ['admissionregistration.k8s.io/v1', 'ValidatingWebhookConfiguration'],
  ['admissionregistration.k8s.io/v1', 'MutatingWebhookConfiguration'],
] as const;
const LABELLED_ONLY = [
  ['rbac.authorization.k8s.io/v1', 'ClusterRole'],
  ['rbac.authorization.k8s.io/v1', 'ClusterRoleBinding'],
] as const;

const LABEL = `${MANAGED_BY.key}=${MANAGED_BY.value}`;

export async function captureState(kube: KubeClients, na: NodeAccess | undefined): Promise<ClusterState> {
  const [namespaces, ks, objects, nodes] = await Promise.all([
    kube.core.listNamespace().then((l) => l.items.map((n) => `${n.metadata!.name!}${n.status?.phase === 'Terminating' ? ' (Terminating)' : ''}`).sort()),
    kubeSystem(kube),
    clusterObjects(kube),
    na ? nodeStates(na) : Promise.resolve({}),
  ]);
  const components = await componentsNotReady(kube, namespaces);
  return { capturedAt: new Date().toISOString(), namespaces, kubeSystem: ks.fingerprints, notReady: [...ks.notReady, ...components], managed: objects.managed, clusterObjects: objects.every, nodes };
}

// Components outside kube-system are counted only for readiness: kube-system alone is fingerprinted.
async function componentsNotReady(kube: KubeClients, namespaces: string[]): Promise<string[]> {
  return podsNotReady(kube, namespaces.filter((n) => isComponentNamespace(n) && n !== 'kube-system' && !n.endsWith(' (Terminating)')));
}

async function kubeSystem(kube: KubeClients): Promise<{ fingerprints: Record<string, string>; notReady: string[] }> {
  const namespace = 'kube-system';
  const [pods, deployments, daemonSets, configMaps] = await Promise.all([
    kube.core.listNamespacedPod({ namespace }),
    kube.apps.listNamespacedDeployment({ namespace }),
    kube.apps.listNamespacedDaemonSet({ namespace }),
    kube.core.listNamespacedConfigMap({ namespace }),
  ]);
  const owned = new Map<string, string[]>();
  const fp: Record<string, string> = {};
  const notReady: string[] = [];
  for (const p of pods.items) {
    const name = p.metadata!.name!;
    const owner = p.metadata?.ownerReferences?.find((o) => o.controller) ?? p.metadata?.ownerReferences?.[0];
    const images = (p.spec?.containers ?? []).map((c) => c.image ?? '').join(',');
    if (!owner || owner.kind === 'Node') fp[`pod ${name}`] = `manifest ${p.metadata?.annotations?.['kubernetes.io/config.hash'] ?? '?'}, ${images}`;
    else owned.set(`pods of ${owner.kind} ${owner.name}`, [...(owned.get(`pods of ${owner.kind} ${owner.name}`) ?? []), images]);
    if (!podReady(p)) notReady.push(notReadyLine(p));
  }
  for (const [k, imgs] of owned) fp[k] = `${imgs.length} pod(s), ${[...new Set(imgs)].sort().join(' ')}`;
  for (const d of [...deployments.items.map((x) => ['Deployment', x] as const), ...daemonSets.items.map((x) => ['DaemonSet', x] as const)]) {
    fp[`${d[0]} ${d[1].metadata!.name!}`] = `generation ${d[1].metadata?.generation ?? 0}`;
  }
  for (const c of configMaps.items) fp[`ConfigMap ${c.metadata!.name!}`] = `data ${short(JSON.stringify(c.data ?? {}) + JSON.stringify(c.binaryData ?? {}))}`;
  return { fingerprints: fp, notReady };
}

/** Every object of the EVERY kinds, and those of faultline's (labelled): pods anywhere, the EVERY kinds, RBAC. */
async function clusterObjects(kube: KubeClients): Promise<{ every: string[]; managed: string[] }> {
  const every: string[] = [];
  const managed: string[] = [];
  for (const p of (await kube.core.listPodForAllNamespaces({ labelSelector: LABEL })).items) managed.push(`Pod ${p.metadata!.namespace}/${p.metadata!.name}`);
  for (const [apiVersion, kind] of EVERY) {
    for (const o of (await kube.objects.list(apiVersion, kind)).items) {
      every.push(`${kind} ${o.metadata?.name ?? '?'}`);
      if (isManaged(o)) managed.push(`${kind} ${o.metadata?.name ?? '?'}`);
    }
  }
  for (const [apiVersion, kind] of LABELLED_ONLY) {
    const l = await kube.objects.list(apiVersion, kind, undefined, undefined, undefined, undefined, undefined, LABEL);
    for (const o of l.items) managed.push(`${kind} ${o.metadata?.name ?? '?'}`);
  }
  return { every: every.sort(), managed: managed.sort() };
}

// One exec per node: file hashes, the nat table, every process's stat line, faultline's folder.
const NODE_SCRIPT = [
  "echo '#files'; find /etc/kubernetes /etc/containerd -type f -exec sha256sum {} + 2>/dev/null",
  "echo '#nat'; iptables-save -t nat 2>/dev/null",
  "echo '#proc'; cat /proc/[0-9]*/stat 2>/dev/null",
  "echo '#faultline'; if [ -e /var/lib/faultline ]; then echo present; fi",
].join('; ');

async function nodeStates(na: NodeAccess): Promise<Record<string, NodeState>> {
  const nodes = await na.provider.nodes(na.cluster);
  const states = await Promise.all(
    nodes.map(async (n) => {
      const res = await nodeSh(na, n.name, NODE_SCRIPT, 30_000);
      if (!res.stdout.includes('#faultline')) throw new Error(`cannot read node ${n.name}'s state: ${res.stderr.trim() || `exit ${res.exitCode}`}`);
      return [n.name, parseNodeState(res.stdout)] as const;
    }),
  );
  return Object.fromEntries(states);
}

/** The node script's output, split into its sections. */
export function parseNodeState(text: string): NodeState {
  const section: Record<string, string[]> = {};
  let cur = '';
  for (const line of text.split('\n')) {
    if (/^#(files|nat|proc|faultline)$/.test(line)) section[(cur = line.slice(1))] = [];
    else if (cur) section[cur]!.push(line);
  }
  const files: Record<string, string> = {};
  for (const l of section.files ?? []) {
    const m = /^([0-9a-f]{64})\s+(.+)$/.exec(l);
    if (m) files[m[2]!] = m[1]!;
  }
  const stopped: string[] = [];
  const tracers: string[] = [];
  for (const l of section.proc ?? []) {
    const m = /^(\d+) \((.*)\) (\S)/.exec(l);
    if (!m) continue;
    if (m[3] === 'T') stopped.push(`${m[2]} (pid ${m[1]})`);
    if (m[2] === 'strace') tracers.push(`strace (pid ${m[1]})`);
  }
  return { files, nat: natForCompare((section.nat ?? []).join('\n')), faultlineDir: (section.faultline ?? []).includes('present'), stopped, tracers };
}

/** What is not as it was in the baseline: one line each, [] when nothing. */
export function differences(base: ClusterState, now: ClusterState): string[] {
  const out: string[] = [];
  const was = new Set(base.namespaces);
  for (const ns of now.namespaces) if (!was.has(ns)) out.push(`namespace ${ns} was not there before`);
  const is = new Set(now.namespaces);
  for (const ns of base.namespaces) if (!is.has(ns)) out.push(`namespace ${ns} is gone`);
  const managedBefore = new Set(base.managed);
  for (const m of now.managed) if (!managedBefore.has(m)) out.push(`faultline's ${m} is still there`);
  const objectsBefore = new Set(base.clusterObjects);
  for (const o of now.clusterObjects) if (!objectsBefore.has(o) && !now.managed.includes(o)) out.push(`${o} was not there before`);
  const objectsNow = new Set(now.clusterObjects);
  for (const o of base.clusterObjects) if (!objectsNow.has(o)) out.push(`${o} is gone`);
  for (const k of new Set([...Object.keys(base.kubeSystem), ...Object.keys(now.kubeSystem)])) {
    const a = base.kubeSystem[k];
    const b = now.kubeSystem[k];
    // a ConfigMap a component adds later (an API server's bookkeeping) is not a leftover; one changed or gone is
    if (a === b || (a === undefined && k.startsWith('ConfigMap '))) continue;
    out.push(a === undefined ? `kube-system ${k} is new (${b})` : b === undefined ? `kube-system ${k} is gone (was ${a})` : `kube-system ${k}: ${b}, was ${a}`);
  }
  out.push(...now.notReady);
  for (const [node, b] of Object.entries(base.nodes)) {
    const n = now.nodes[node];
    if (!n) {
      out.push(`node ${node} is gone`);
      continue;
    }
    out.push(...nodeDifferences(node, b, n));
  }
  for (const node of Object.keys(now.nodes)) if (!base.nodes[node]) out.push(`node ${node} is new`);
  return out;
}

function nodeDifferences(node: string, b: NodeState, n: NodeState): string[] {
  const out: string[] = [];
  for (const p of new Set([...Object.keys(b.files), ...Object.keys(n.files)])) {
    if (b.files[p] === n.files[p]) continue;
    out.push(`node ${node}: ${p} ${b.files[p] === undefined ? 'appeared' : n.files[p] === undefined ? 'is gone' : 'changed'}`);
  }
  const natBefore = new Set(b.nat);
  const natNow = new Set(n.nat);
  const added = n.nat.filter((l) => !natBefore.has(l));
  const removed = b.nat.filter((l) => !natNow.has(l));
  if (added.length || removed.length) {
    out.push(`node ${node}: nat table differs (${[...added.map((l) => `+${l}`), ...removed.map((l) => `-${l}`)].slice(0, 3).join('; ')}${added.length + removed.length > 3 ? '; ...' : ''})`);
  }
  if (n.faultlineDir && !b.faultlineDir) out.push(`node ${node}: /var/lib/faultline is still there`);
  const stoppedBefore = new Set(b.stopped);
  for (const s of n.stopped) if (!stoppedBefore.has(s)) out.push(`node ${node}: ${s} is stopped`);
  for (const t of n.tracers) out.push(`node ${node}: ${t} is running`);
  return out;
}

/** Captures until the state matches the baseline, or withinMs pass (a restarted pod takes a while to be Ready, a
 *  deleted namespace to go); returns what still differs, [] when the cluster is proven as it was. */
export async function provenAsBefore(
  capture: () => Promise<ClusterState>,
  base: ClusterState,
  o: { withinMs: number; intervalMs?: number; signal?: AbortSignal; sleep(ms: number, signal?: AbortSignal): Promise<void>; now?(): number },
): Promise<string[]> {
  const now = o.now ?? Date.now;
  const until = now() + o.withinMs;
  for (;;) {
    let left: string[];
    try {
      left = differences(base, await capture());
    } catch (err) {
      left = [`cannot read the cluster's state: ${errorMessage(err)}`];
    }
    if (left.length === 0 || now() >= until) return left;
    await o.sleep(o.intervalMs ?? 3_000, o.signal);
  }
}

/** A baseline worth keeping: captures until two looks intervalMs apart agree and every pod counted is Ready.
 *  A cluster just made is still moving when its nodes turn Ready (the CNI writes its nat rules a moment after its
 *  pod starts, kube-system pods finish starting), and a baseline taken in that window makes every later check fail.
 *  Throws, naming what still moved, when the cluster has not settled within withinMs. */
export async function settledState(
  capture: () => Promise<ClusterState>,
  o: { withinMs: number; intervalMs?: number; signal?: AbortSignal; sleep(ms: number, signal?: AbortSignal): Promise<void>; now?(): number },
): Promise<ClusterState> {
  const now = o.now ?? Date.now;
  const until = now() + o.withinMs;
  let before = await capture();
  for (;;) {
    await o.sleep(o.intervalMs ?? 3_000, o.signal);
    const after = await capture();
    // both looks with everything Ready: a component that has just turned Ready may still be writing its state
    const moved = [...before.notReady, ...differences(before, after)];
    if (moved.length === 0) return after;
    if (now() >= until) throw new Error(`the cluster did not settle within ${Math.round(o.withinMs / 1000)}s: ${moved.slice(0, 3).join('; ')}`);
    before = after;
  }
}
