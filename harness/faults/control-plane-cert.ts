// Stale certificates (as in a service mesh's mTLS failures after a CA rotation), on the control plane: a
// kubeadm control-plane certificate goes stale for real. The certificate the API server presents to etcd or to
// the kubelets is re-issued with its real subject and usages but dates in the past (expired), in the future
// (not yet valid), or from a foreign CA that carries the real CA's name (wrong-ca), written over the real file
// on the control-plane node, and the static pod that holds it is restarted, so the real component fails its
// real TLS handshakes with the real x509 errors.
//
// plan() copies the original certificate and key node-side into a faultline directory outside
// /etc/kubernetes (kubeadm never sees it); the journal holds only paths and sha256 digests. revert() puts the
// exact bytes back (sha256 checked), restarts the holder and removes the node-side copy.
import { z } from 'zod';
import { secondsSchema } from '../core/durations.js';
import { nodeSh, shQuote, type NodeAccess, requireNodeAccess, targetControlPlaneNode } from '../cluster/node-access.js';
import { inspectCertificate, issueCertificate, parseCertificates, type IssueRequest } from '../certs/index.js';
import { CA_FILES, kubeadmCertByRenewName, keyPathOf, type Holder } from '../certs/kubeadm-pki.js';
import { apiserverReadyz, copyOnNode, nodeSha256, restartHolder } from '../certs/node-pki.js';
import { NODE_STATE_ROOT, mustReadNodeFile, pruneEmptyDirsScript, writeNodeFile } from '../cluster/node-files.js';
import { dirname } from 'node:path';
import type { RunContext } from '../cluster/context.js';
import { sleep } from '../core/poll.js';
import type { Fault } from './types.js';

export const STALE_CERTS = ['apiserver-etcd-client', 'apiserver-kubelet-client', 'front-proxy-client'] as const;
export const BACKUP_ROOT = `${NODE_STATE_ROOT}/cert-backup`;
const DAY_S = 86_400;

export const ControlPlaneCertParams = z
  .object({
    node: z.string().min(1).optional(),
    cert: z.enum(STALE_CERTS),
    mode: z.enum(['expired', 'wrong-ca', 'not-yet-valid']),
    /** expired: how long ago notAfter passed; not-yet-valid: how far ahead notBefore is */
    offsetSeconds: z.number().int().positive().default(DAY_S),
    /** how long revert waits for the API server's /readyz after restoring */
    readyTimeoutSeconds: secondsSchema().int().default(180),
  })
  .strict();
export type ControlPlaneCertParams = z.infer<typeof ControlPlaneCertParams>;

export interface BackedUpFile {
  path: string;
  backup: string;
  sha256: string;
}

export interface ControlPlaneCertRecord {
  node: string;
  cert: string;
  mode: string;
  holder: Holder;
  backupDir: string;
  readyTimeoutSeconds: number;
  /** certificate then key: paths and sha256 only, the bytes stay on the node */
  files: BackedUpFile[];
}

function needNodes(ctx: RunContext): NodeAccess {
  return requireNodeAccess(ctx, `control-plane-cert needs a kubeadm cluster whose nodes it can reach`);
}

/** The request that re-issues `current` (same subject, SANs and usage) with the fault's dates and CA. */
export function staleRequest(current: string, usage: IssueRequest['usage'], p: Pick<ControlPlaneCertParams, 'mode' | 'offsetSeconds'>, now: Date, issuer: IssueRequest['issuer']): IssueRequest {
  const [cert] = parseCertificates(current);
  if (!cert) throw new Error('no certificate to re-issue');
  const attrs = cert.subject.split('\n').map((l) => l.split('=')) as Array<[string, string]>;
  const cn = attrs.find(([k]) => k === 'CN')?.[1] ?? '';
  const organization = attrs.filter(([k]) => k === 'O').map(([, v]) => v);
  const san = (cert.subjectAltName ?? '').split(', ').filter(Boolean);
  const t = now.getTime();
  const dates =
    p.mode === 'expired'
      ? { notBefore: new Date(t - (365 * DAY_S + p.offsetSeconds) * 1000), notAfter: new Date(t - p.offsetSeconds * 1000) }
      : p.mode === 'not-yet-valid'
        ? { notBefore: new Date(t + p.offsetSeconds * 1000), notAfter: new Date(t + (365 * DAY_S + p.offsetSeconds) * 1000) }
        : { notBefore: new Date(t - 3600_000), notAfter: new Date(t + 365 * DAY_S * 1000) };
  return {
    commonName: cn,
    ...(organization.length ? { organization } : {}),
    dnsNames: san.filter((s) => s.startsWith('DNS:')).map((s) => s.slice(4)),
    ipAddresses: san.filter((s) => s.startsWith('IP Address:')).map((s) => s.slice(11)),
    usage,
    ...dates,
    ...(issuer ? { issuer } : {}),
    keyFormat: 'pkcs1',
  };
}

async function signer(na: NodeAccess, node: string, mode: string, caPath: string): Promise<{ certPem: string; keyPem: string }> {
  const caPem = (await mustReadNodeFile(na, node, caPath)).toString('utf8');
  if (mode !== 'wrong-ca') return { certPem: caPem, keyPem: (await mustReadNodeFile(na, node, keyPathOf(caPath))).toString('utf8') };
  // a foreign CA under the real CA's name: names match, the signature does not ("unknown authority")
  const caName = /CN=([^\n]+)/.exec(parseCertificates(caPem)[0]!.subject)?.[1] ?? 'kubernetes';
  const now = Date.now();
  return issueCertificate({ commonName: caName, usage: 'ca', notBefore: new Date(now - 3600_000), notAfter: new Date(now + 3650 * DAY_S * 1000) });
}

export const controlPlaneCert: Fault<ControlPlaneCertParams, ControlPlaneCertRecord> = {
  type: 'control-plane-cert',
  description: 'replace a kubeadm control-plane certificate with an expired, not-yet-valid or foreign-CA one and restart its static pod',
  paramsSchema: ControlPlaneCertParams,

  async plan(ctx, p) {
    const na = needNodes(ctx);
    const node = await targetControlPlaneNode(na, p.node);
    const info = kubeadmCertByRenewName(p.cert)!;
    const paths = [info.path, keyPathOf(info.path)];
    const digests = await nodeSha256(na, node, paths);
    const missing = paths.filter((f) => !digests[f]);
    if (missing.length) throw new Error(`${missing.join(', ')} not found on ${node}: not a kubeadm control plane`);
    const backupDir = `${BACKUP_ROOT}/${ctx.runId}/${p.cert}`;
    const files = paths.map((path) => ({ path, backup: `${backupDir}/${path.split('/').pop()}`, sha256: digests[path]! }));
    // read-only: the node-side copy is made by apply(), after this record is journaled
    return { node, cert: p.cert, mode: p.mode, holder: info.holder, backupDir, readyTimeoutSeconds: p.readyTimeoutSeconds, files };
  },

  async apply(ctx, p, r) {
    const na = needNodes(ctx);
    const info = kubeadmCertByRenewName(r.cert)!;
    const [certFile, keyFile] = r.files as [BackedUpFile, BackedUpFile];
    const now = await nodeSha256(na, r.node, [certFile.path, keyFile.path]);
    if (now[certFile.path] !== certFile.sha256 || now[keyFile.path] !== keyFile.sha256) {
      throw new Error(`${certFile.path} on ${r.node} changed since plan (or the fault is already in place); not overwriting it`);
    }
    // the originals stay on the node (never in the journal); revert and `recover` copy them back
    await copyOnNode(na, r.node, r.files.map((f) => ({ from: f.path, to: f.backup })));
    const copied = await nodeSha256(na, r.node, r.files.map((f) => f.backup));
    for (const f of r.files) if (copied[f.backup] !== f.sha256) throw new Error(`backup ${f.backup} on ${r.node} does not match ${f.path} (sha256)`);
    const current = (await mustReadNodeFile(na, r.node, certFile.path)).toString('utf8');
    const issuer = await signer(na, r.node, r.mode, CA_FILES[info.ca]);
    const stale = await issueCertificate(staleRequest(current, info.usage, p, new Date(), issuer));
    // key first: a holder that restarts in between reads the old certificate with the new key and fails the
    // same way; the original pair is in the node-side backup
    await writeNodeFile(na, r.node, keyFile.path, Buffer.from(stale.keyPem), { mode: '600' });
    await writeNodeFile(na, r.node, certFile.path, Buffer.from(stale.certPem), { mode: '644' });
    const [c] = parseCertificates(stale.certPem);
    ctx.log(`${certFile.path} on ${r.node} re-issued ${r.mode} (notBefore ${c!.validFrom}, notAfter ${c!.validTo}, issuer ${c!.issuer.replace(/\n/g, ', ')}${r.mode === 'wrong-ca' ? ' (a foreign CA)' : ''}); originals kept on the node in ${r.backupDir}`);
    ctx.log(await restartHolder(na, r.node, r.holder));
  },

  async revert(ctx, r) {
    const na = needNodes(ctx);
    const current = await nodeSha256(na, r.node, r.files.map((f) => f.path));
    const changed = r.files.filter((f) => current[f.path] !== f.sha256);
    if (changed.length === 0) {
      ctx.log(`${r.files.map((f) => f.path).join(', ')} on ${r.node} already hold the original bytes`);
    } else {
      // a holder running on the fault's certificate must restart; one a runbook already renewed and restarted
      // runs on a valid certificate and is left alone (the restored original is valid too)
      const stale = await currentCertStale(na, r);
      const backups = await nodeSha256(na, r.node, changed.map((f) => f.backup));
      const bad = changed.filter((f) => backups[f.backup] !== f.sha256);
      if (bad.length) throw new Error(`node-side backup ${bad.map((f) => f.backup).join(', ')} on ${r.node} is missing or does not match its sha256; cannot restore the original`);
      await copyOnNode(na, r.node, changed.map((f) => ({ from: f.backup, to: f.path })));
      const after = await nodeSha256(na, r.node, changed.map((f) => f.path));
      const wrong = changed.filter((f) => after[f.path] !== f.sha256);
      if (wrong.length) throw new Error(`${wrong.map((f) => f.path).join(', ')} on ${r.node}: sha256 differs after restore`);
      ctx.log(`${changed.map((f) => f.path).join(', ')} on ${r.node} restored byte for byte (sha256 ${changed.map((f) => f.sha256.slice(0, 12)).join(', ')})`);
      if (!stale) {
        ctx.log(`${r.files[0]!.path} was already replaced by a valid certificate (renewed); ${r.holder} not restarted`);
        return removeBackup(ctx, na, r);
      }
      ctx.log(await restartHolder(na, r.node, r.holder));
      const deadline = Date.now() + (r.readyTimeoutSeconds ?? 180) * 1000;
      let ready = await apiserverReadyz(na, r.node);
      while (!ready.ok && Date.now() < deadline) {
        // each look is a node exec; an API server restart takes 20-60 s, so every 3 s costs little of that
        await sleep(3000, ctx.signal);
        ready = await apiserverReadyz(na, r.node);
      }
      // the files are right, but a revert that leaves the API server down has not undone the fault: the entry
      // stays open (revert-failed) so `faultline recover` tries again; the backup is kept for that
      if (!ready.ok) throw new Error(`kube-apiserver on ${r.node} not ready ${r.readyTimeoutSeconds ?? 180}s after the original certificate was restored: ${ready.body}`);
      ctx.log(`kube-apiserver on ${r.node} ready again`);
    }
    await removeBackup(ctx, na, r);
  },

  describe(r) {
    return `${r.files.map((f) => `${f.path} (sha256 ${f.sha256.slice(0, 12)})`).join(' and ')} on ${r.node} restored from the node-side copy in ${r.backupDir}, ${r.holder} restarted if it runs on the stale certificate`;
  },
};

/** Is the certificate in place now (before restoring) expired, not yet valid or from the wrong CA? */
async function currentCertStale(na: NodeAccess, r: ControlPlaneCertRecord): Promise<boolean> {
  try {
    const info = kubeadmCertByRenewName(r.cert)!;
    const [cert] = parseCertificates(await mustReadNodeFile(na, r.node, r.files[0]!.path));
    const trusted = parseCertificates(await mustReadNodeFile(na, r.node, CA_FILES[info.ca]));
    return !cert || inspectCertificate(cert, { trusted }).problems.length > 0;
  } catch {
    return true;
  }
}

async function removeBackup(ctx: RunContext, na: NodeAccess, r: ControlPlaneCertRecord): Promise<void> {
  // the originals are back: the node-side copy of the key is not needed any more
  const rm = await nodeSh(na, r.node, `rm -rf ${shQuote(r.backupDir)} && { ${pruneEmptyDirsScript(dirname(r.backupDir))}; true; }`);
  if (rm.exitCode !== 0) ctx.log(`could not remove ${r.backupDir} on ${r.node}: ${rm.stderr.trim()}`);
}
