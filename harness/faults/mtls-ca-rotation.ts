// Intermittent mTLS handshake failures in a service mesh: after a CA rotation some pods keep certificates from
// the old CA, so a share of mutual-TLS connections fail ("SSL handshake failed", "connection reset") while
// others succeed.
//
// The fault rotates the CA the way an operator does: a new CA, every leaf certificate it signed re-issued with
// the same names and usage, every Secret updated (trust bundle ca.crt = the new CA only), and then only SOME pods
// restarted. The others keep the old certificate and CA bundle nginx read at start. The original Secret data is
// copied to a backup Secret in the namespace (labelled, deleted by revert) before anything changes; the journal
// holds Secret names, resourceVersions and sha256 digests only.
import type { V1Secret } from '@kubernetes/client-node';
import { z } from 'zod';
import { issueCertificate, parseCertificates } from '../certs/index.js';
import { jsonPatch, selectorQuery } from '../cluster/kube.js';
import { MANAGED_BY } from '../core/labels.js';
import type { RunContext } from '../cluster/context.js';
import { dataDigest, leafSpecOf, tlsData } from '../mtls/pki.js';
import { mountedSecrets, restartPod, RESTART_TIMEOUT_MS } from '../mtls/pods.js';
import { backupKey, digestOf, putSecretData, readSecret, splitBackup, type SecretDigest } from '../mtls/secrets.js';
import { leafSecretsOf, readCa, reissueSecret } from '../mtls/workload.js';
import type { Fault } from './types.js';

export const CaRotationParams = z
  .object({
    namespace: z.string().min(1),
    caSecret: z.string().min(1).default('mtls-ca'),
    validDays: z.number().positive().default(30),
    /** pods restarted after the rotation (the rest stay stale): `count` pods of each Deployment */
    restart: z.array(z.object({ deployment: z.string().min(1), count: z.number().int().nonnegative() }).strict()).default([]),
  })
  .strict();
export type CaRotationParams = z.infer<typeof CaRotationParams>;

export interface CaRotationRecord {
  namespace: string;
  caSecret: string;
  /** holds the original data of every Secret below; made by apply() before any change, deleted by revert() */
  backupSecret: string;
  secrets: SecretDigest[];
  /** pods apply() restarts, per Deployment */
  restart: Array<{ deployment: string; pods: string[] }>;
}

const RESTORED_AT = 'faultline/restored-at';
const DAY = 86_400_000;

export function backupName(runId: string): string {
  return `faultline-backup-${runId.toLowerCase().replace(/[^a-z0-9-]/g, '-')}`.slice(0, 63).replace(/-+$/, '');
}

async function deploymentPods(ctx: RunContext, namespace: string, deployment: string): Promise<string[]> {
  const d = await ctx.kube.apps.readNamespacedDeployment({ name: deployment, namespace });
  const sel = selectorQuery(d.spec?.selector);
  const pods = await ctx.kube.core.listNamespacedPod({ namespace, labelSelector: sel });
  return pods.items.filter((p) => !p.metadata?.deletionTimestamp).map((p) => p.metadata!.name!).sort();
}

/** Every Secret's current digest against the record: which differ from the originals. */
async function changedSecrets(ctx: RunContext, r: CaRotationRecord): Promise<Array<{ want: SecretDigest; cur?: V1Secret }>> {
  const out = [];
  for (const want of r.secrets) {
    const cur = await readSecret(ctx.kube.core, r.namespace, want.name);
    if (!cur || dataDigest(cur.data) !== want.sha256) out.push({ want, ...(cur ? { cur } : {}) });
  }
  return out;
}

export const mtlsCaRotation: Fault<CaRotationParams, CaRotationRecord> = {
  type: 'mtls-ca-rotation',
  scope: 'namespace',
  description: 'rotate the CA of a mutual-TLS workload (new CA, re-issued leaves, Secrets updated) and restart only some of its pods',
  paramsSchema: CaRotationParams,

  async plan(ctx, p) {
    const ca = await readCa(ctx.kube.core, p.namespace, p.caSecret);
    const leaves = await leafSecretsOf(ctx.kube.core, p.namespace, ca);
    if (leaves.length === 0) throw new Error(`no kubernetes.io/tls Secret in ${p.namespace} is signed by the CA in ${p.caSecret}`);
    const restart = [];
    for (const r of p.restart) restart.push({ deployment: r.deployment, pods: (await deploymentPods(ctx, p.namespace, r.deployment)).slice(0, r.count) });
    return {
      namespace: p.namespace,
      caSecret: p.caSecret,
      backupSecret: backupName(ctx.runId),
      secrets: [ca.secret, ...leaves].map(digestOf),
      restart,
    };
  },

  async apply(ctx, p, r) {
    const core = ctx.kube.core;
    const changed = await changedSecrets(ctx, r);
    const backup = await readSecret(core, r.namespace, r.backupSecret);
    if (changed.length > 0 && backup) {
      ctx.log(`${r.namespace}: Secrets already rotated (backup ${r.backupSecret} exists)`);
      return;
    }
    if (changed.length > 0) throw new Error(`Secrets changed since plan: ${changed.map((c) => c.want.name).join(', ')}; not rotating`);
    // 1. the originals, in the cluster, before any change
    const originals = await Promise.all(r.secrets.map((s) => readSecret(core, r.namespace, s.name)));
    const data: Record<string, string> = {};
    originals.forEach((s) => Object.entries(s!.data ?? {}).forEach(([k, v]) => (data[backupKey(s!.metadata!.name!, k)] = v)));
    if (!backup) {
      await core.createNamespacedSecret({
        namespace: r.namespace,
        body: {
          metadata: { name: r.backupSecret, namespace: r.namespace, labels: { [MANAGED_BY.key]: MANAGED_BY.value, 'faultline/backup': 'mtls-ca-rotation' } },
          type: 'Opaque',
          data,
        },
      });
    }
    // 2. a new CA and every leaf re-issued from it, same names and usage
    const oldCa = await readCa(core, r.namespace, r.caSecret);
    const oldCaCert = parseCertificates(oldCa.certPem)[0]!;
    const now = new Date();
    const notBefore = new Date(now.getTime() - 5 * 60_000);
    const notAfter = new Date(now.getTime() + p.validDays * DAY);
    const cn = leafSpecOf(oldCaCert).commonName.replace(/ \(rotated [^)]*\)$/, '');
    const newCa = await issueCertificate({ commonName: `${cn} (rotated ${now.toISOString().slice(0, 19)}Z)`, organization: ['faultline'], usage: 'ca', notBefore, notAfter: new Date(notAfter.getTime() + DAY) });
    const updated: string[] = [];
    for (const s of originals.slice(1)) updated.push(`${s!.metadata!.name} (rv ${await reissueSecret(core, r.namespace, s!, newCa, notBefore, notAfter)})`);
    const caRes = await putSecretData(core, r.namespace, r.caSecret, oldCa.secret.type ?? 'kubernetes.io/tls', tlsData(newCa, newCa.certPem));
    ctx.log(`${r.namespace}: CA rotated (${caRes.metadata!.name} rv ${caRes.metadata!.resourceVersion}); re-issued ${updated.join(', ')}; originals in Secret ${r.backupSecret}`);
    // 3. only some pods pick the new certificates up
    for (const d of r.restart) {
      for (const pod of d.pods) ctx.log(await restartPod(core, r.namespace, pod, { signal: ctx.signal ?? AbortSignal.timeout(RESTART_TIMEOUT_MS) }));
    }
  },

  async revert(ctx, r) {
    const core = ctx.kube.core;
    const backup = await readSecret(core, r.namespace, r.backupSecret);
    if (!backup) {
      const changed = await changedSecrets(ctx, r);
      if (changed.length === 0 || changed.every((c) => !c.cur)) {
        ctx.log(`${r.namespace}: Secrets ${changed.length ? 'gone (namespace deleted)' : 'already the originals'}; no backup left`);
        return;
      }
      throw new Error(`backup Secret ${r.namespace}/${r.backupSecret} is missing and ${changed.map((c) => c.want.name).join(', ')} differ from the originals`);
    }
    const originals = splitBackup(backup.data ?? {});
    for (const want of r.secrets) {
      const data = originals.get(want.name);
      if (!data || dataDigest(data) !== want.sha256) throw new Error(`backup of ${want.name} in ${r.backupSecret} does not match the journal's sha256 ${want.sha256.slice(0, 12)}; not restoring`);
    }
    const restored: string[] = [];
    for (const { want } of await changedSecrets(ctx, r)) {
      const res = await putSecretData(core, r.namespace, want.name, want.type, originals.get(want.name)!);
      if (dataDigest(res.data) !== want.sha256) throw new Error(`${want.name}: sha256 after restore ${dataDigest(res.data).slice(0, 12)}, expected ${want.sha256.slice(0, 12)}`);
      restored.push(want.name);
    }
    // pods started before the restore hold certificates that are no longer in the Secrets
    let restoredAt = backup.metadata?.annotations?.[RESTORED_AT];
    if (!restoredAt) {
      restoredAt = new Date().toISOString();
      await core.patchNamespacedSecret({ name: r.backupSecret, namespace: r.namespace, body: [{ op: 'add', path: '/metadata/annotations', value: { [RESTORED_AT]: restoredAt } }] }, jsonPatch);
    }
    const names = new Set(r.secrets.map((s) => s.name));
    const pods = (await core.listNamespacedPod({ namespace: r.namespace })).items.filter(
      (p) => !p.metadata?.deletionTimestamp && mountedSecrets(p).some((s) => names.has(s)) && new Date(p.metadata?.creationTimestamp ?? 0).getTime() < Date.parse(restoredAt!),
    );
    for (const p of pods) ctx.log(await restartPod(core, r.namespace, p.metadata!.name!, { signal: ctx.signal ?? AbortSignal.timeout(RESTART_TIMEOUT_MS) }));
    await core.deleteNamespacedSecret({ name: r.backupSecret, namespace: r.namespace });
    ctx.log(`${r.namespace}: restored ${restored.length ? restored.join(', ') : 'nothing (Secrets were the originals)'} byte for byte; restarted ${pods.length} pod(s); deleted ${r.backupSecret}`);
  },

  describe(r) {
    return `Secrets ${r.secrets.map((s) => `${s.name} (sha256 ${s.sha256.slice(0, 12)})`).join(', ')} in ${r.namespace} restored from ${r.backupSecret}, their pods restarted`;
  },
};
