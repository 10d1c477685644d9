// PodSecurity's cluster-wide default raised: an AdmissionConfiguration on the control-plane node whose PodSecurity
// defaults enforce a level (restricted), and the kube-apiserver flag that loads it. The API server really restarts
// with it; from then on a namespace without its own pod-security labels gets that level, and the pods its
// controllers create are refused. The journal holds the manifest as it was (flags and paths, no key) and whether
// the config file existed; revert puts the manifest back byte for byte and removes the file.
import { dirname } from 'node:path';
import { parseDocument } from 'yaml';
import { z } from 'zod';
import { apiserverReadyz } from '../certs/node-pki.js';
import type { RunContext } from '../cluster/context.js';
import { nodeSh, requireNodeAccess, targetControlPlaneNode, type NodeAccess } from '../cluster/node-access.js';
import { NODE_STATE_ROOT, assertJournalable, mustReadNodeFile, pruneEmptyDirsScript, restoreNodeFile, sha256Hex, snapshotNodeFile, writeNodeFile, type NodeFileSnapshot } from '../cluster/node-files.js';
import { sleep } from '../core/poll.js';
import type { Fault } from './types.js';

export const APISERVER_MANIFEST = '/etc/kubernetes/manifests/kube-apiserver.yaml';
export const ADMISSION_DIR = `${NODE_STATE_ROOT}/admission`;
export const ADMISSION_FILE = `${ADMISSION_DIR}/pod-security.yaml`;
const FLAG = '--admission-control-config-file';
const VOLUME = 'faultline-admission';

export const PsaDefaultParams = z
  .object({
    level: z.enum(['baseline', 'restricted']).default('restricted'),
    /** namespaces the default does not apply to: the cluster's own privileged workloads */
    exemptNamespaces: z.array(z.string().min(1)).default(['kube-system', 'kube-flannel', 'local-path-storage']),
    /** the victim: its Deployment's pods are deleted once the default is in, so its ReplicaSet must create new ones */
    namespace: z.string().min(1),
    deployment: z.string().min(1),
    node: z.string().min(1).optional(),
  })
  .strict();
export type PsaDefaultParams = z.infer<typeof PsaDefaultParams>;

export interface PsaDefaultRecord {
  node: string;
  manifest: NodeFileSnapshot;
  config: NodeFileSnapshot;
}

/** Pure: the AdmissionConfiguration whose PodSecurity defaults enforce (and audit, warn) the level. */
export function admissionConfig(p: PsaDefaultParams): string {
  return `# written by faultline (fault psa-cluster-default); removed when the fault is reverted
apiVersion: apiserver.config.k8s.io/v1
kind: AdmissionConfiguration
plugins:
  - name: PodSecurity
    configuration:
      apiVersion: pod-security.admission.config.k8s.io/v1
      kind: PodSecurityConfiguration
      defaults:
        enforce: "${p.level}"
        enforce-version: "latest"
        audit: "${p.level}"
        audit-version: "latest"
        warn: "${p.level}"
        warn-version: "latest"
      exemptions:
        usernames: []
        runtimeClasses: []
        namespaces: [${p.exemptNamespaces.map((n) => JSON.stringify(n)).join(', ')}]
`;
}

/** Pure: the kube-apiserver manifest with the flag, and the config folder mounted read-only (the rest kept). */
export function withAdmissionConfig(manifest: string): string {
  const doc = parseDocument(manifest);
  const containers = (doc.getIn(['spec', 'containers']) as { items?: Array<{ get(k: string): unknown }> } | undefined)?.items ?? [];
  const idx = containers.findIndex((c) => c.get('name') === 'kube-apiserver');
  if (idx < 0) throw new Error('no container named kube-apiserver in the manifest');
  const command = (doc.getIn(['spec', 'containers', idx, 'command']) as { items?: Array<{ value?: unknown }> } | undefined)?.items ?? [];
  if (command.some((a) => String(a.value ?? a).startsWith(`${FLAG}=`))) throw new Error(`kube-apiserver already has ${FLAG}; this fault would replace the cluster's own admission configuration`);
  doc.addIn(['spec', 'containers', idx, 'command'], `${FLAG}=${ADMISSION_FILE}`);
  doc.addIn(['spec', 'containers', idx, 'volumeMounts'], doc.createNode({ name: VOLUME, mountPath: ADMISSION_DIR, readOnly: true }));
  doc.addIn(['spec', 'volumes'], doc.createNode({ name: VOLUME, hostPath: { path: ADMISSION_DIR, type: 'Directory' } }));
  return doc.toString();
}

/** Whether a running kube-apiserver on the node has (or has not) the flag: the kubelet has acted on the manifest. */
async function apiserverRunsWith(na: NodeAccess, node: string): Promise<boolean | undefined> {
  const res = await nodeSh(na, node, `for p in /proc/[0-9]*; do c=$(tr '\\0' ' ' < "$p/cmdline" 2>/dev/null); case "$c" in kube-apiserver\\ *) echo "$c";; esac; done`);
  const lines = res.stdout.split('\n').filter(Boolean);
  if (lines.length === 0) return undefined;
  return lines.every((l) => l.includes(`${FLAG}=${ADMISSION_FILE}`));
}

/** Waits until the kubelet runs kube-apiserver with (or without) the flag and it answers /readyz. */
async function waitApiserver(ctx: RunContext, na: NodeAccess, node: string, withFlag: boolean, timeoutMs = 240_000): Promise<number> {
  const started = Date.now();
  for (;;) {
    const runs = await apiserverRunsWith(na, node);
    if (runs === withFlag && (await apiserverReadyz(na, node)).ok) return Math.round((Date.now() - started) / 1000);
    if (Date.now() - started > timeoutMs) {
      throw new Error(`kube-apiserver on ${node} not ready ${withFlag ? 'with' : 'without'} ${FLAG} after ${timeoutMs / 1000}s`);
    }
    // each look is a node exec; the API server restarts in tens of seconds
    await sleep(2_000, ctx.signal);
  }
}

function needNodes(ctx: RunContext): NodeAccess {
  return requireNodeAccess(ctx, 'psa-cluster-default edits the kube-apiserver static pod on a kubeadm control-plane node');
}

async function deletePodsOf(ctx: RunContext, namespace: string, deployment: string): Promise<number> {
  const d = await ctx.kube.apps.readNamespacedDeployment({ name: deployment, namespace });
  const labels = d.spec?.selector?.matchLabels ?? {};
  const labelSelector = Object.entries(labels).map(([k, v]) => `${k}=${v}`).join(',');
  if (!labelSelector) throw new Error(`Deployment ${namespace}/${deployment} has no matchLabels to find its pods by`);
  const pods = await ctx.kube.core.listNamespacedPod({ namespace, labelSelector });
  for (const p of pods.items) await ctx.kube.core.deleteNamespacedPod({ name: p.metadata!.name!, namespace });
  return pods.items.length;
}

export const psaClusterDefault: Fault<PsaDefaultParams, PsaDefaultRecord> = {
  type: 'psa-cluster-default',
  description: "set PodSecurity's cluster-wide default (AdmissionConfiguration + kube-apiserver flag) and make a Deployment recreate its pods",
  paramsSchema: PsaDefaultParams,

  async plan(ctx, p) {
    const na = needNodes(ctx);
    const node = await targetControlPlaneNode(na, p.node);
    const manifest = await snapshotNodeFile(na, node, APISERVER_MANIFEST);
    if (!manifest.existed) throw new Error(`${APISERVER_MANIFEST} does not exist on ${node}; not a kubeadm control-plane node`);
    const bytes = Buffer.from(manifest.b64!, 'base64');
    assertJournalable(bytes, APISERVER_MANIFEST, node);
    withAdmissionConfig(bytes.toString('utf8')); // refuses a cluster with its own config
    const config = await snapshotNodeFile(na, node, ADMISSION_FILE);
    if (config.existed) throw new Error(`${ADMISSION_FILE} already exists on ${node}`);
    return { node, manifest, config };
  },

  async apply(ctx, p, r) {
    const na = needNodes(ctx);
    const original = Buffer.from(r.manifest.b64!, 'base64');
    const current = await mustReadNodeFile(na, r.node, APISERVER_MANIFEST);
    const changed = Buffer.from(withAdmissionConfig(original.toString('utf8')), 'utf8');
    if (!current.equals(changed)) {
      if (!current.equals(original)) throw new Error(`${APISERVER_MANIFEST} on ${r.node} changed since plan (sha256 ${sha256Hex(current)}); not overwriting it`);
      await writeNodeFile(na, r.node, ADMISSION_FILE, Buffer.from(admissionConfig(p)), { mode: '644' });
      // outside the manifests folder, so the kubelet never reads a half-written file
      await writeNodeFile(na, r.node, APISERVER_MANIFEST, changed, { mode: '600', tmpDir: '/etc/kubernetes' });
      ctx.log(`${APISERVER_MANIFEST} on ${r.node}: ${FLAG}=${ADMISSION_FILE} (PodSecurity default enforce ${p.level}, exempt ${p.exemptNamespaces.join(', ')})`);
    }
    const took = await waitApiserver(ctx, na, r.node, true);
    ctx.log(`kube-apiserver on ${r.node} restarted with the PodSecurity default after ${took}s`);
    const n = await deletePodsOf(ctx, p.namespace, p.deployment);
    ctx.log(`deleted ${n} pod(s) of Deployment ${p.namespace}/${p.deployment}; its ReplicaSet must create them under the new default`);
  },

  async revert(ctx, r) {
    const na = needNodes(ctx);
    const said = await restoreNodeFile(na, r.manifest, { mode: '600', tmpDir: '/etc/kubernetes' });
    ctx.log(said);
    const took = await waitApiserver(ctx, na, r.node, false);
    ctx.log(`kube-apiserver on ${r.node} ready without ${FLAG} after ${took}s`);
    ctx.log(await restoreNodeFile(na, r.config));
    await nodeSh(na, r.node, `${pruneEmptyDirsScript(dirname(ADMISSION_FILE))}; true`);
  },

  describe(r) {
    return `${APISERVER_MANIFEST} on ${r.node} restored byte for byte (sha256 ${r.manifest.sha256!.slice(0, 12)}) and ${ADMISSION_FILE} removed`;
  },
};
