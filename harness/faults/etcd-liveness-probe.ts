// The NRE Labs outage (2018): kubeadm's etcd static pod had an exec liveness probe (etcdctl ... get foo)
// that failed while etcd was healthy; the kubelet killed etcd every ~2 minutes (failureThreshold 8 x
// timeoutSeconds 15) and the API server went down with it, 183 restarts.
//
// The fault edits the real static pod manifest on the control-plane node so the kubelet itself kills a
// healthy etcd: an exec probe shaped like the incident's (etcdctl with the healthcheck-client certificate,
// `get foo`) but pointed at 127.0.0.1:2380, where nothing serves clients (etcd's peer port, bound to the node
// IP only): etcdctl fails with "context deadline exceeded" while etcd answers on 2379. Thresholds are lowered so
// kills come within a minute. The journal keeps the original manifest bytes (base64) and their sha256; revert
// writes them back byte for byte.
import { assertJournalable, mustReadNodeFile, sha256Hex, writeNodeFile } from '../cluster/node-files.js';
import { isDeepStrictEqual } from 'node:util';
import { parseDocument } from 'yaml';
import { z } from 'zod';
import { type NodeAccess, requireNodeAccess, targetControlPlaneNode } from '../cluster/node-access.js';
import type { RunContext } from '../cluster/context.js';
import type { Fault } from './types.js';
import { sleep } from '../core/poll.js';
import { ETCD_LOG_STARTS, latestStart, parseContainerLogs, type EtcdContainerLog } from '../detectors/etcd-liveness-analysis.js';
import { nodeSh } from '../cluster/node-access.js';
import { apiserverReadyz } from '../certs/node-pki.js';

export const ETCD_MANIFEST = '/etc/kubernetes/manifests/etcd.yaml';
const PKI = '/etc/kubernetes/pki/etcd';

export const LivenessProbeParams = z
  .object({
    node: z.string().min(1).optional(),
    /** where the broken probe sends etcdctl (the incident used https://[127.0.0.1]:2379; 2380 is the typo) */
    endpoint: z.string().min(1).default('https://127.0.0.1:2380'),
    periodSeconds: z.number().int().positive().default(5),
    failureThreshold: z.number().int().positive().default(3),
    initialDelaySeconds: z.number().int().nonnegative().default(10),
    timeoutSeconds: z.number().int().positive().default(15),
  })
  .strict();
export type LivenessProbeParams = z.infer<typeof LivenessProbeParams>;

export interface LivenessProbeRecord {
  node: string;
  path: string;
  /** the manifest as kubeadm left it, base64 */
  originalB64: string;
  originalSha256: string;
  /** the etcd static pod (log dir) running from the original manifest; the kubelet names a static pod from its
   *  manifest, so the restored bytes bring back this same pod */
  originalPod?: string;
}

export function brokenProbe(p: LivenessProbeParams): Record<string, unknown> {
  return {
    exec: {
      command: [
        'etcdctl',
        `--endpoints=${p.endpoint}`,
        `--cacert=${PKI}/ca.crt`,
        `--cert=${PKI}/healthcheck-client.crt`,
        `--key=${PKI}/healthcheck-client.key`,
        'get',
        'foo',
      ],
    },
    failureThreshold: p.failureThreshold,
    initialDelaySeconds: p.initialDelaySeconds,
    periodSeconds: p.periodSeconds,
    timeoutSeconds: p.timeoutSeconds,
  };
}

/** Pure: the manifest with the etcd container's livenessProbe replaced (the rest of the document kept). */
export function withLivenessProbe(manifest: string, probe: Record<string, unknown>): string {
  const doc = parseDocument(manifest);
  const containers = doc.getIn(['spec', 'containers']) as { items?: unknown[] } | undefined;
  const items = (containers?.items ?? []) as Array<{ get(k: string): unknown }>;
  const idx = items.findIndex((c) => c.get('name') === 'etcd');
  if (idx < 0) throw new Error('no container named etcd in the manifest');
  doc.setIn(['spec', 'containers', idx, 'livenessProbe'], doc.createNode(probe));
  return doc.toString();
}

/** Pure: the two manifests describe the same pod (formatting aside). The kubelet names a static pod from its
 *  content, so it does not restart etcd when one is replaced by the other (the runbook's kubeadm probe, then
 *  kubeadm's original bytes). */
export function samePod(a: string, b: string): boolean {
  return isDeepStrictEqual(parseDocument(a).toJS(), parseDocument(b).toJS());
}

export function livenessProbeOf(manifest: string): Record<string, unknown> | undefined {
  const obj = parseDocument(manifest).toJS() as { spec?: { containers?: Array<{ name?: string; livenessProbe?: Record<string, unknown> }> } };
  return obj.spec?.containers?.find((c) => c.name === 'etcd')?.livenessProbe;
}

/** How long the kubelet may take to run etcd from a changed manifest (measured here: 40-80 s). */
const PICKUP_TIMEOUT_MS = 240_000;
/** How long the API server may take to answer once etcd is back: after a long fault (a run holding it for its
 *  alerts) the kubelet has kube-apiserver in crash-loop back-off, which reaches 5 minutes, then it starts. */
const API_BACK_WITHIN_MS = 330_000;

/** Every etcd container the kubelet has started on the node, with the first timestamp of its log (node and host
 *  share a clock on kind; elsewhere the node's own clock is compared, which is the kubelet's). */
async function etcdContainerStarts(na: NodeAccess, node: string): Promise<EtcdContainerLog[]> {
  const res = await nodeSh(na, node, ETCD_LOG_STARTS);
  return parseContainerLogs(res.stdout.split('\n'));
}

/** How long a restored manifest may sit unnoticed before the kubelet is taken to have never run the broken
 *  one (an apply interrupted before the kubelet picked it up; pick-ups measured here took 40-80 s). */
const SETTLE_MS = 120_000;

/** Pure: whether etcd runs from the restored manifest. 'restarted' when the original pod's container started
 *  after the restore; 'unchanged' when the original pod's container is still the latest SETTLE_MS after it;
 *  undefined while the kubelet may still be switching (a start from the broken manifest after the restore is not
 *  the end: the kubelet has yet to act on the restored file). Without originalPod (older journals), any start
 *  after the restore counts. */
export function restoredPodState(starts: EtcdContainerLog[], written: number, now: number, originalPod?: string): 'restarted' | 'unchanged' | undefined {
  const latest = latestStart(starts);
  if (!latest) return undefined;
  const after = Date.parse(latest.startedAt!) > written;
  if (!originalPod) return after ? 'restarted' : undefined;
  if (latest.pod !== originalPod) return undefined;
  if (after) return 'restarted';
  return now - written >= SETTLE_MS ? 'unchanged' : undefined;
}

/** Waits until the kubelet has started an etcd container after `since` (a manifest change); returns its pod. */
async function waitForEtcdStart(ctx: RunContext, na: NodeAccess, node: string, since: number): Promise<string> {
  for (;;) {
    const started = (await etcdContainerStarts(na, node)).find((c) => c.startedAt && Date.parse(c.startedAt) > since);
    if (started) return started.pod;
    if (Date.now() - since > PICKUP_TIMEOUT_MS) throw new Error(`the kubelet on ${node} did not run etcd from the changed manifest within ${PICKUP_TIMEOUT_MS / 1000}s`);
    // each look is a node exec; the kubelet sees a manifest change within seconds (at most its 20 s file check)
    await sleep(2_000, ctx.signal);
  }
}

async function waitForRestoredPod(ctx: RunContext, na: NodeAccess, r: LivenessProbeRecord, written: number): Promise<'restarted' | 'unchanged'> {
  for (;;) {
    const state = restoredPodState(await etcdContainerStarts(na, r.node), written, Date.now(), r.originalPod);
    if (state) return state;
    if (Date.now() - written > PICKUP_TIMEOUT_MS) throw new Error(`the kubelet on ${r.node} did not run etcd from the restored manifest within ${PICKUP_TIMEOUT_MS / 1000}s`);
    // each look is a node exec; the kubelet sees a manifest change within seconds (at most its 20 s file check)
    await sleep(2_000, ctx.signal);
  }
}

export function readManifest(na: NodeAccess, node: string, path = ETCD_MANIFEST): Promise<Buffer> {
  return mustReadNodeFile(na, node, path);
}

/** Atomic write on the node: a dot-file outside the manifests dir (the kubelet never reads it), then rename. */
export function writeManifest(na: NodeAccess, node: string, bytes: Buffer, path = ETCD_MANIFEST): Promise<void> {
  return writeNodeFile(na, node, path, bytes, { mode: '600', tmpDir: '/etc/kubernetes' });
}

function needNodes(ctx: RunContext): NodeAccess {
  return requireNodeAccess(ctx, `etcd-liveness-probe needs a kubeadm cluster whose nodes it can reach`);
}

export const etcdLivenessProbe: Fault<LivenessProbeParams, LivenessProbeRecord> = {
  type: 'etcd-liveness-probe',
  description: "rewrite the etcd static pod's liveness probe (kubeadm manifest) so it fails while etcd is healthy",
  paramsSchema: LivenessProbeParams,

  async plan(ctx, p) {
    const na = needNodes(ctx);
    const node = await targetControlPlaneNode(na, p.node);
    const bytes = await readManifest(na, node);
    if (!livenessProbeOf(bytes.toString('utf8'))) throw new Error(`${ETCD_MANIFEST} on ${node} has no etcd container with a liveness probe`);
    assertJournalable(bytes, ETCD_MANIFEST, node);
    const originalPod = latestStart(await etcdContainerStarts(na, node))?.pod;
    return { node, path: ETCD_MANIFEST, originalB64: bytes.toString('base64'), originalSha256: sha256Hex(bytes), ...(originalPod ? { originalPod } : {}) };
  },

  async apply(ctx, p, r) {
    const na = needNodes(ctx);
    const current = await readManifest(na, r.node, r.path);
    const original = Buffer.from(r.originalB64, 'base64');
    const broken = Buffer.from(withLivenessProbe(original.toString('utf8'), brokenProbe(p)), 'utf8');
    if (current.equals(broken)) {
      ctx.log(`${r.path} on ${r.node} already has the broken probe`);
      return;
    }
    if (!current.equals(original)) throw new Error(`${r.path} on ${r.node} changed since plan (sha256 ${sha256Hex(current)}); not overwriting it`);
    const written = Date.now();
    await writeManifest(na, r.node, broken, r.path);
    ctx.log(`${r.path} on ${r.node}: liveness probe is now exec etcdctl --endpoints=${p.endpoint} get foo (period ${p.periodSeconds}s, failureThreshold ${p.failureThreshold})`);
    // The fault is in once the kubelet runs etcd under the new probe: it replaces the static pod 40-80 s after the
    // manifest changes here, and until then the old probe guards etcd. Waiting here makes TTD count from then.
    const pod = await waitForEtcdStart(ctx, na, r.node, written);
    ctx.log(`the kubelet runs etcd on ${r.node} under the new probe (pod ${pod}), ${Math.round((Date.now() - written) / 1000)}s after the manifest was written`);
  },

  async revert(ctx, r) {
    const na = needNodes(ctx);
    const original = Buffer.from(r.originalB64, 'base64');
    if (sha256Hex(original) !== r.originalSha256) throw new Error('journal record is corrupt: original manifest does not match its sha256');
    const current = await readManifest(na, r.node, r.path).catch(() => undefined);
    if (current?.equals(original)) {
      ctx.log(`${r.path} on ${r.node} already as kubeadm wrote it (sha256 ${r.originalSha256.slice(0, 12)})`);
      return;
    }
    const written = Date.now();
    await writeManifest(na, r.node, original, r.path);
    ctx.log(`${r.path} on ${r.node} restored byte for byte (sha256 ${r.originalSha256.slice(0, 12)})`);
    // undone only when etcd runs from it again and the API server answers: until then the cluster is still down
    const runsOriginal = !r.originalPod || latestStart(await etcdContainerStarts(na, r.node))?.pod === r.originalPod;
    if (current && samePod(current.toString('utf8'), original.toString('utf8')) && runsOriginal) {
      ctx.log(`the restored manifest describes the pod etcd already runs as on ${r.node}; the kubelet keeps it`);
    } else {
      const state = await waitForRestoredPod(ctx, na, r, written);
      ctx.log(state === 'restarted' ? `the kubelet restarted etcd on ${r.node} from the restored manifest` : `the kubelet never ran the broken manifest on ${r.node}: etcd kept running from the original`);
    }
    const until = Date.now() + API_BACK_WITHIN_MS;
    while (!(await apiserverReadyz(na, r.node)).ok) {
      if (Date.now() > until) throw new Error(`kube-apiserver on ${r.node} not ready within ${API_BACK_WITHIN_MS / 1000}s after etcd restarted from the restored manifest`);
      // each look is a node exec; the kubelet sees a manifest change within seconds (at most its 20 s file check)
    await sleep(2_000, ctx.signal);
    }
    ctx.log(`etcd on ${r.node} runs from the restored manifest and the API server answers`);
  },

  describe(r) {
    return `${r.path} on ${r.node} restored to its original bytes (sha256 ${r.originalSha256.slice(0, 12)})`;
  },
};
