// Runbook for stale control-plane certificates (expired, not yet valid or from a foreign CA): renew what
// kubeadm manages with `kubeadm certs renew <name>` on the node (it keeps the certificate's subject and SANs
// and signs with the cluster's CA, which also fixes a certificate from a foreign CA), restart the static pods
// that hold them, and prove every handshake the control plane makes succeeds and the API server is ready.
import { z } from 'zod';
import { controlPlaneNodes, nodeSh, shQuote, type NodeAccess, requireNodeAccess } from '../cluster/node-access.js';
import { kubeadmCertByPath } from '../certs/kubeadm-pki.js';
import { scanCluster } from '../certs/node-scan.js';
import { apiserverReadyz, restartHolder } from '../certs/node-pki.js';
import { certIssues, describeProbe, soonSecondsFromEnv } from '../detectors/control-plane-certs.js';
import type { Finding } from '../detectors/types.js';
import { apiAnswers } from './verify-helpers.js';
import type { RunContext } from '../cluster/context.js';
import { parseResource, type Diagnosis, type Runbook, type VerifyResult } from './types.js';

/** verify: also fail on certificates inside the soon-to-expire window (default: only stale ones fail) */
export const VerifyParams = z.object({ namespace: z.string().min(1).optional(), failOnExpiringSoon: z.boolean().default(false) }).strict();

/** kind keeps the cluster's kubeadm configuration on the node; kubeadm otherwise reads it from the API */
const KUBEADM_CONFIG = '/kind/kubeadm.conf';

function needNodes(ctx: RunContext): NodeAccess {
  return requireNodeAccess(ctx, `run kubeadm certs renew on the control-plane node by hand`);
}

/** "ns/CertificateFile/<node>:<path>" from the finding */
export function fileOfFinding(f: Finding): { node: string; path: string } | undefined {
  const r = f.resources.map(parseResource).find((x) => x.kind === 'CertificateFile');
  const m = r ? /^([^:]+):(\/.*)$/.exec(r.name) : null;
  return m ? { node: m[1]!, path: m[2]! } : undefined;
}

export function renewScript(names: string[]): string {
  const config = `$( [ -f ${KUBEADM_CONFIG} ] && echo --config=${KUBEADM_CONFIG} )`;
  // kubeadm's warnings about kind's older config API are noise; its exit code is kept
  return names
    .map((n) => `out=$(kubeadm certs renew ${shQuote(n)} ${config} 2>&1) || { echo "$out"; exit 1; }; echo "$out" | grep -v -E 'deprecated API spec|Ignored configuration document' || true`)
    .join('\n');
}

export const controlPlaneCertsRunbook: Runbook = {
  id: 'control-plane-certs',
  title: 'stale control-plane certificates (expired, not yet valid, wrong CA)',
  verifyParams: VerifyParams,

  async diagnose(ctx, finding: Finding): Promise<Diagnosis> {
    const na = needNodes(ctx);
    const cps = await controlPlaneNodes(na);
    const at = fileOfFinding(finding);
    const node = at && cps.includes(at.node) ? at.node : cps[0]!;
    const [scan] = await scanCluster(na, [node], [node]);
    const issues = certIssues(scan!, new Date(), 0).filter((i) => i.check.problems.length);
    const renew = [...new Set(issues.map((i) => kubeadmCertByPath(i.path)?.renewName).filter((n): n is string => !!n))];
    const manual = issues.filter((i) => !kubeadmCertByPath(i.path)?.renewName).map((i) => `${i.path} (${i.info.role}): ${i.check.problems.join(', ')}`);
    const holders = [...new Set(issues.map((i) => i.info.holder))];
    return {
      runbook: 'control-plane-certs',
      summary: `${issues.length} stale certificate(s) on ${node}: ${issues.map((i) => `${i.path} ${i.check.problems.join('+')} (${i.info.role})`).join('; ') || 'none now'}`,
      details: [
        ...issues.map((i) => `${i.path}: subject ${i.check.subject}, issuer ${i.check.issuer}, notBefore ${i.check.notBefore.toISOString()}, notAfter ${i.check.notAfter.toISOString()}, problems ${i.check.problems.join(', ')}; held by ${i.info.holder}`),
        ...scan!.probes.map(describeProbe),
        `fix: ${renew.length ? `kubeadm certs renew ${renew.join(' ')}` : 'nothing kubeadm renews'}; restart ${holders.join(', ') || 'nothing'}`,
        ...manual.map((m) => `not renewable by kubeadm (re-issue from the cluster CA by hand): ${m}`),
      ],
      data: { node, renew, holders, manual },
    };
  },

  async remediate(ctx, diagnosis) {
    const na = needNodes(ctx);
    const node = String(diagnosis.data.node);
    const renew = (diagnosis.data.renew as string[]) ?? [];
    const manual = (diagnosis.data.manual as string[]) ?? [];
    if (!renew.length && manual.length) return { mode: 'manual', actions: manual.map((m) => `re-issue from the cluster CA and restart its holder: ${m}`) };
    const actions: string[] = [];
    if (renew.length) {
      const res = await nodeSh(na, node, renewScript(renew), 120_000);
      if (res.exitCode !== 0) throw new Error(`kubeadm certs renew on ${node} failed: ${(res.stdout + res.stderr).trim().slice(0, 500)}`);
      actions.push(`kubeadm certs renew ${renew.join(' ')} on ${node}: ${res.stdout.trim().split('\n').filter(Boolean).join('; ')}`);
    }
    for (const h of (diagnosis.data.holders as string[]) ?? []) actions.push(await restartHolder(na, node, h));
    actions.forEach((a) => ctx.log(a));
    return { mode: 'automatic', actions };
  },

  async verify(ctx, raw): Promise<VerifyResult> {
    const p = VerifyParams.parse(raw);
    const na = needNodes(ctx);
    const cps = await controlPlaneNodes(na);
    const all = (await na.provider.nodes(na.cluster)).map((n) => n.name);
    const scans = await scanCluster(na, cps, all);
    const details: string[] = [];
    let ok = true;
    for (const n of scans) {
      if (n.error) {
        ok = false;
        details.push(`${n.node}: cannot scan: ${n.error}`);
        continue;
      }
      const issues = certIssues(n, new Date(), p.failOnExpiringSoon ? soonSecondsFromEnv() : 0);
      ok &&= issues.length === 0 && n.probes.every((x) => x.result.ok);
      details.push(`${n.node}: ${n.files.length} certificate files checked, ${issues.length ? `stale: ${issues.map((i) => `${i.path} ${i.check.problems.join('+')}`).join(', ')}` : 'none stale'}`);
      details.push(...n.probes.map((x) => `${n.node}: ${describeProbe(x)}`));
      if (cps.includes(n.node)) {
        const ready = await apiserverReadyz(na, n.node);
        ok &&= ready.ok;
        details.push(`${n.node}: kube-apiserver /readyz ${ready.ok ? 'ok' : `not ready: ${ready.body || 'no answer'}`}`);
      }
    }
    const api = await apiAnswers(ctx);
    ok &&= api.ok;
    details.push(api.detail);
    return { ok, details };
  },

  markdown() {
    return MARKDOWN;
  },
};

const MARKDOWN = `# Runbook: stale control-plane certificates

**Signature.** A kubeadm certificate has expired, is not yet valid (clock or a bad re-issue), or was signed by a
different CA than the one its peer trusts. What fails depends on which one: with the API server's etcd client
certificate (\`apiserver-etcd-client\`) the API server cannot reach etcd and exits ("Error creating leases ...
context deadline exceeded"; etcd logs \`rejected connection on client endpoint ... x509: certificate has expired
or is not yet valid\`); with its kubelet client certificate (\`apiserver-kubelet-client\`) \`kubectl logs/exec\`
fail ("Unauthorized"; the kubelet logs \`Unable to authenticate the request ... x509: ...\`). The standard alert,
KubeClientCertificateExpiration, counts client certificates the API server *receives*; it cannot see a
certificate that has already expired, nor the API server's own client certificates, nor anything when the API
server is down.

**Diagnose (on the node; the API may be down).** \`kubeadm certs check-expiration\` lists dates but not the CA
chain: also verify each certificate against its CA (\`openssl verify -CAfile /etc/kubernetes/pki/etcd/ca.crt
/etc/kubernetes/pki/apiserver-etcd-client.crt\`), check the kubeconfigs' embedded client certificates, and make
the handshakes the control plane makes (API server :6443, etcd :2379 with the API server's etcd client
certificate, kubelet :10250 with its kubelet client certificate). \`faultline doctor\` does all of this.

**Remediate.** \`kubeadm certs renew <name>\` on the control-plane node (it keeps subject and SANs and signs with
the cluster CA; on kind pass \`--config /kind/kubeadm.conf\`, elsewhere kubeadm reads the configuration from the
cluster and falls back to defaults if the API is down). Then restart the static pod that holds the certificate
(kube-apiserver for apiserver-*, etcd for etcd-*): stop its container (\`crictl stop\`/\`ctr task kill\`) or move
its manifest out of \`/etc/kubernetes/manifests\` and back. A static pod that is already crash-looping waits out the
kubelet's back-off (up to 5 minutes, and moving the manifest does not reset it): \`systemctl restart kubelet\` clears
it, running containers keep running. Certificates kubeadm does not manage (the kubelet's
rotating client certificate) are re-issued from the cluster CA by hand.

**Verify.** No certificate on any node is expired, not yet valid or from the wrong CA; every handshake above
succeeds (the kubelet answers the API server's client certificate with something other than 401); the API server
is ready (\`/readyz\`).
`;
