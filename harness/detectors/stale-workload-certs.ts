// Intermittent mutual-TLS handshake failures in a service mesh because some pods serve stale
// certificates after a CA rotation. Signatures: pods whose served certificate is not signed by the CA their
// Secret now trusts (or is expired, not yet valid, or not the certificate the Secret holds), TLS Secrets whose
// certificate is expired, near expiry or from another CA, and the handshake errors the clients log. Node clock
// skew is reported where the provider lets us read node clocks (certificate validity depends on it).
//
// Unlike KubeClientCertificateExpiration (which only sees client certificates presented to the API server,
// and only before they expire), this looks at the certificates the workload serves, expired ones included.
// collect() is in ../mtls/collect.ts; analyze() is pure.
import type { CertCheck } from '../certs/index.js';
import { collectWorkloadCerts, LOG_WINDOW_SECONDS, type SecretCert, type ServedCert, type WorkloadCertSnapshot } from '../mtls/collect.js';
import { resourceId, type Detector, type Finding } from './types.js';

/** node clocks further apart than this can break certificate validity checks */
export const SKEW_LIMIT_MS = 2_000;

export function describeCert(c: CertCheck): string {
  return `${c.subject} (serial ${c.serial}, issuer ${c.issuer}, valid ${iso(c.notBefore)} to ${iso(c.notAfter)})`;
}

const iso = (d: Date | string) => new Date(d).toISOString().replace(/\.\d{3}Z$/, 'Z');
const fp = (f: string) => f.replace(/:/g, '').slice(0, 16);

function problemText(p: string, secret?: SecretCert): string {
  switch (p) {
    case 'wrong-ca':
      return `not signed by the current CA (${secret?.cas.map((c) => `${c.subject}, sha256 ${fp(c.fingerprint256)}`).join('; ') || 'none'} in ${secret?.name ?? 'its'} ca.crt)`;
    case 'expired':
      return 'expired';
    case 'not-yet-valid':
      return 'not yet valid';
    case 'expiring-soon':
      return 'expiring within 7 days';
    default:
      return p;
  }
}

/** Why a pod's served certificate is stale, or undefined when it is the Secret's current, valid certificate. */
export function staleReasons(s: ServedCert, secret: SecretCert | undefined): string[] {
  if (!s.cert) return [];
  const reasons = s.cert.problems.filter((p) => p !== 'expiring-soon').map((p) => problemText(p, secret));
  if (secret?.cert && secret.cert.fingerprint256 !== s.cert.fingerprint256) reasons.push(`not the certificate Secret ${secret.name} holds now (serial ${secret.cert.serial}, rv ${secret.resourceVersion})`);
  return reasons;
}

export function clockLine(snap: WorkloadCertSnapshot): string {
  if (!snap.clocks) return 'node clocks: not visible with this provider (no node access)';
  if (!snap.clocks.length) return 'node clocks: no node answered';
  const offs = snap.clocks.map((c) => c.offsetMs);
  const spread = Math.max(...offs) - Math.min(...offs);
  // an exec's start-up cost makes each reading uncertain by about half its round trip
  const each = snap.clocks.map((c) => `${c.node} ${c.offsetMs >= 0 ? '+' : ''}${c.offsetMs} ms (±${Math.round(c.rttMs / 2)})`).join(', ');
  return `node clocks vs the host: ${each} (spread ${Math.round(spread)} ms${spread > SKEW_LIMIT_MS ? `: SKEW above ${SKEW_LIMIT_MS} ms, certificate validity differs between nodes` : ', no skew that matters'})`;
}

export function analyzeNamespace(ns: string, snap: WorkloadCertSnapshot): Finding | undefined {
  const secrets = new Map(snap.secrets.filter((s) => s.namespace === ns).map((s) => [s.name, s]));
  const served = snap.served.filter((s) => s.namespace === ns);
  const stale = served.map((s) => ({ s, why: staleReasons(s, secrets.get(s.secret)) })).filter((x) => x.why.length > 0);
  const badSecrets = [...secrets.values()].filter((s) => s.cert && s.cert.problems.length > 0);
  const skewed = snap.clocks && snap.clocks.length > 1 && Math.max(...snap.clocks.map((c) => c.offsetMs)) - Math.min(...snap.clocks.map((c) => c.offsetMs)) > SKEW_LIMIT_MS;
  if (stale.length === 0 && badSecrets.length === 0) return undefined;
  const fresh = served.filter((s) => s.cert && !stale.some((x) => x.s === s));
  const logs = snap.logs.filter((l) => l.namespace === ns).sort((a, b) => b.count - a.count);
  const stalePods = [...new Set(stale.map((x) => x.s.pod))];
  const summaryParts = [
    ...(stale.length ? [`${stalePods.length} of ${new Set(served.map((s) => s.pod)).size} pod(s) serve stale certificates: ${stale.map((x) => `${x.s.pod} (${x.why[0]})`).join(', ')}`] : []),
    ...(badSecrets.length ? [`TLS Secret(s) ${badSecrets.map((s) => `${s.name} (${s.cert!.problems.join(', ')}${s.usedBy ? `; used by ${s.usedBy.join(', ') || 'nothing'}` : ''})`).join(', ')}`] : []),
  ];
  const handshakeErrors = logs.reduce((n, l) => n + l.count, 0);
  return {
    detector: 'stale-workload-certs',
    severity: stale.length || badSecrets.some((s) => s.cert!.problems.some((p) => p !== 'expiring-soon')) ? 'critical' : 'warning',
    summary: `${ns}: ${summaryParts.join('; ')}${handshakeErrors ? `; ${handshakeErrors} handshake error(s) in pod logs (last ${LOG_WINDOW_SECONDS} s)` : ''}`,
    rootCause: stale.length
      ? `pods read their certificate and CA bundle only at start and kept them when the Secrets changed: ${stalePods.join(', ')} still present certificates the current CA did not sign (and trust only the old CA), so connections that land on them fail the TLS handshake while the others succeed${skewed ? '; node clocks also disagree' : ''}`
      : `certificates in TLS Secrets are ${[...new Set(badSecrets.flatMap((s) => s.cert!.problems))].join(', ')}${skewed ? '; node clocks also disagree' : ''}; to change: renew ${badSecrets.map((s) => `Secret ${ns}/${s.name}`).join(', ')}${badSecrets.some((s) => s.usedBy?.some((u) => u.startsWith('Pod '))) ? ', then restart the pods that mount it (they read it at start)' : ''}`,
    evidence: [
      ...stale.map(({ s, why }) => `pod ${ns}/${s.pod}${s.node ? ` on ${s.node}` : ''} (started ${s.startedAt ?? '?'}) serves on :${s.port} ${describeCert(s.cert!)}: ${why.join('; ')}`),
      ...(fresh.length ? [`${fresh.length} pod(s) serve the current certificates: ${fresh.map((s) => `${s.pod} (serial ${s.cert!.serial})`).join(', ')}`] : []),
      ...badSecrets.map((s) => `Secret ${ns}/${s.name} (rv ${s.resourceVersion}) tls.crt ${describeCert(s.cert!)}: ${s.cert!.problems.map((p) => problemText(p, s)).join('; ')}${s.usedBy?.length ? `; used by ${s.usedBy.join(', ')}` : ''}`),
      ...logs.slice(0, 6).map((l) => `${l.pod} log: "${l.message}" x${l.count} in the last ${LOG_WINDOW_SECONDS} s`),
      ...served.filter((s) => s.error).map((s) => `${s.pod}:${s.port}: no certificate read (${s.error})`),
      clockLine(snap),
    ],
    runbook: 'stale-workload-certs',
    resources: [
      ...stalePods.map((p) => resourceId(ns, 'Pod', p)),
      ...badSecrets.map((s) => resourceId(ns, 'Secret', s.name)),
      ...[...new Set(badSecrets.flatMap((s) => s.usedBy ?? []))].map((u) => resourceId(ns, u.split(' ')[0]!, u.split(' ').slice(1).join(' '))),
    ],
  };
}

export function analyzeWorkloadCerts(snap: WorkloadCertSnapshot): Finding[] {
  if (snap?.kind !== 'workload-certs') return [];
  const namespaces = [...new Set(snap.secrets.map((s) => s.namespace))].sort();
  return namespaces.flatMap((ns) => {
    const f = analyzeNamespace(ns, snap);
    return f ? [f] : [];
  });
}

export const staleWorkloadCertsDetector: Detector<WorkloadCertSnapshot> = {
  id: 'stale-workload-certs',
  description: 'TLS Secrets and served certificates that are expired, near expiry or not signed by the current CA, and the pods serving them',
  collect: collectWorkloadCerts,
  analyze: analyzeWorkloadCerts,
};
