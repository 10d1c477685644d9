// Runbook for stale workload certificates (mTLS handshake failures after a CA rotation): re-issue what the
// current CA has not signed (or what is expired or near expiry), then restart the stale pods one at a time so
// each reads the Secrets again, waiting for each replacement to be Ready before the next. Verify: every pod
// serves its Secret's current certificate, signed by the current CA.
import { z } from 'zod';
import type { RunContext } from '../cluster/context.js';
import { analyzeNamespace } from '../detectors/stale-workload-certs.js';
import type { Finding } from '../detectors/types.js';
import { collectWorkloadCerts } from '../mtls/collect.js';
import { restartPod, RESTART_TIMEOUT_MS } from '../mtls/pods.js';
import { readSecret } from '../mtls/secrets.js';
import { findCaSecret, readCa, reissueSecret } from '../mtls/workload.js';
import { parseResource, type Diagnosis, type Runbook, type VerifyResult } from './types.js';

export const VerifyParams = z.object({ namespace: z.string().min(1) }).strict();

const DAY = 86_400_000;

async function scan(ctx: RunContext, namespace: string) {
  const snap = await collectWorkloadCerts({ ...ctx, namespaces: [namespace] });
  return { snap, finding: analyzeNamespace(namespace, snap) };
}

export const staleWorkloadCertsRunbook: Runbook = {
  id: 'stale-workload-certs',
  scope: 'namespace',
  title: 'pods serving stale certificates after a CA rotation',
  verifyParams: VerifyParams,

  async diagnose(ctx, finding: Finding): Promise<Diagnosis> {
    const namespace = parseResource(finding.resources[0] ?? '').namespace;
    const { snap, finding: now } = await scan(ctx, namespace);
    const stalePods = (now?.resources ?? []).map(parseResource).filter((r) => r.kind === 'Pod').map((r) => r.name);
    const badSecrets = snap.secrets.filter((s) => s.namespace === namespace && s.cert && s.cert.problems.length > 0).map((s) => s.name);
    return {
      runbook: 'stale-workload-certs',
      summary: `${namespace}: ${stalePods.length} pod(s) serve stale certificates (${stalePods.join(', ') || 'none'}); ${badSecrets.length} Secret(s) to re-issue (${badSecrets.join(', ') || 'none'})`,
      details: now?.evidence ?? ['nothing stale any more'],
      data: { namespace, stalePods, badSecrets },
    };
  },

  async remediate(ctx, diagnosis) {
    const namespace = String(diagnosis.data.namespace);
    const actions: string[] = [];
    const bad = diagnosis.data.badSecrets as string[];
    if (bad.length) {
      // re-issue from the namespace's CA Secret, keeping names and usage
      const caSecret = await findCaSecret(ctx.kube.core, namespace);
      if (!caSecret) return { mode: 'manual', actions: [`re-issue ${bad.join(', ')} from your current CA (no CA Secret with its key in ${namespace}), then restart the stale pods one at a time`] };
      const ca = await readCa(ctx.kube.core, namespace, caSecret);
      const now = new Date();
      for (const name of bad.filter((n) => n !== caSecret)) {
        const s = (await readSecret(ctx.kube.core, namespace, name))!;
        const rv = await reissueSecret(ctx.kube.core, namespace, s, ca, new Date(now.getTime() - 5 * 60_000), new Date(now.getTime() + 30 * DAY));
        actions.push(`re-issued ${namespace}/${name} from ${caSecret} (rv ${rv})`);
      }
    }
    // after a re-issue every pod mounting it is stale; otherwise the diagnosed ones
    const { finding } = await scan(ctx, namespace);
    const pods = (finding?.resources ?? []).map(parseResource).filter((r) => r.kind === 'Pod').map((r) => r.name);
    for (const pod of pods) {
      const line = await restartPod(ctx.kube.core, namespace, pod, { signal: ctx.signal ?? AbortSignal.timeout(RESTART_TIMEOUT_MS) });
      ctx.log(line);
      actions.push(line);
    }
    if (!actions.length) actions.push(`${namespace}: nothing stale left to restart`);
    return { mode: 'automatic', actions };
  },

  async verify(ctx, raw): Promise<VerifyResult> {
    const p = VerifyParams.parse(raw);
    const { snap, finding } = await scan(ctx, p.namespace);
    const served = snap.served.filter((s) => s.namespace === p.namespace);
    const unread = served.filter((s) => !s.cert);
    const ok = !finding && served.length > 0 && unread.length === 0;
    return {
      ok,
      details: [
        finding ? finding.summary : `${served.length} pod(s) serve their Secret's current certificate, signed by the current CA: ${served.map((s) => `${s.pod} (serial ${s.cert?.serial ?? '?'})`).join(', ')}`,
        ...unread.map((s) => `${s.pod}: ${s.error}`),
      ],
    };
  },

  markdown() {
    return MARKDOWN;
  },
};

const MARKDOWN = `# Runbook: pods serving stale certificates after a CA rotation

**Signature.** Intermittent failures between services that talk mutual TLS: some requests fail with "SSL
handshake failed", "upstream SSL certificate verify error", "connection reset by peer" or a 502, others succeed.
The CA was rotated (its Secret and the trust bundles changed), but processes that read their certificate, key
and CA bundle only at start still hold the old ones. The share of failures is roughly the share of stale pods
behind the Service. \`KubeClientCertificateExpiration\` does not fire: it watches client certificates presented
to the API server, and only before they expire.

**Diagnose.** For every pod behind the failing Service, read the certificate it *serves* (a handshake to the
pod itself, e.g. a port-forward and \`openssl s_client\`, or \`faultline doctor\`), not the Secret: compare its
issuer and serial with the Secret's \`tls.crt\`, and verify it against the Secret's \`ca.crt\`. Pods whose
certificate is from the old CA, expired, or not the Secret's are stale. Check the TLS Secrets themselves the same
way (expired, near expiry, signed by a CA that is no longer in the bundle). Compare node clocks (\`date\` on each
node): skew makes certificates "not yet valid" or expired on some nodes only.

**Remediate.** If a Secret's certificate is bad, re-issue it from the current CA (same names and usage).
Then restart the stale pods **one at a time**: delete the pod, wait until its replacement is Ready, go on.
Never restart them all at once (that turns a partial outage into a full one), and do not roll the CA back
while part of the fleet already trusts only the new one.

**Verify.** Every pod serves its Secret's current certificate, signed by the current CA, and a load test
through the service has no failed request.
`;
