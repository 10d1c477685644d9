// Stale control-plane certificates (a service mesh's stale-certificate mTLS failures, moved to the control plane).
// Like `kubeadm certs check-expiration`, but it also checks each certificate's chain against the CA it must chain
// to (ca, etcd-ca, front-proxy-ca), looks at every node's kubeconfigs (embedded and referenced client
// certificates) and the kubelet's, and makes the control plane's own handshakes again (clients -> API server, API
// server -> etcd and -> kubelets, with the node's certificates). Everything is read on the nodes, so it works
// while the API server is down (an expired etcd client certificate takes it down). Findings name the file, the
// component that presents it and to whom, the problem, and the components' own log lines. Certificates only: keys
// are used for handshakes and never reported.
import type { KubeContext } from '../cluster/context.js';
import { controlPlaneNodes, nodeAccess } from '../cluster/node-access.js';
import { inspectCertificate, parseCertificates, type CertCheck } from '../certs/index.js';
import { CA_FILES, kubeadmCertByPath, type CaName, type KubeadmCert } from '../certs/kubeadm-pki.js';
import { scanCluster, type EndpointProbe, type NodeCerts } from '../certs/node-scan.js';
import { resourceId, type Detector, type Finding } from './types.js';

/** default window for 'expiring-soon'; FAULTLINE_CERT_SOON_DAYS overrides it */
export const DEFAULT_SOON_DAYS = 30;

export interface ControlPlaneCertsSnapshot {
  kind: 'control-plane-certs';
  takenAt: string;
  soonSeconds: number;
  nodes: NodeCerts[];
}

export interface CertIssue {
  node: string;
  path: string;
  from?: string;
  info: Pick<KubeadmCert, 'role' | 'holder' | 'renewName' | 'peer'> & { ca?: CaName };
  check: CertCheck;
}

const KUBELET_SERVING: CertIssue['info'] = { role: 'kubelet serving certificate (kube-apiserver -> kubelet :10250)', holder: 'kubelet' };

// ---------- analysis (pure) ----------

/** Every certificate file on a node with a problem, checked against the CA kubeadm signs it with. */
export function certIssues(n: NodeCerts, now: Date, soonSeconds: number): CertIssue[] {
  const cas = new Map<CaName, ReturnType<typeof parseCertificates>>();
  for (const [name, path] of Object.entries(CA_FILES) as Array<[CaName, string]>) {
    const f = n.files.find((x) => x.source === 'pki' && x.path === path);
    if (f) cas.set(name, parseCertificates(f.pem));
  }
  const out: CertIssue[] = [];
  for (const f of n.files) {
    const [leaf] = parseCertificates(f.pem);
    if (!leaf) continue;
    const known = f.source === 'kubelet' ? undefined : kubeadmCertByPath(f.path);
    const info: CertIssue['info'] = known ?? (f.source === 'kubelet' ? KUBELET_SERVING : { role: 'certificate kubeadm does not manage', holder: 'kube-apiserver' });
    // a CA is checked for its dates; the kubelet's self-signed serving certificate has no cluster CA
    const trusted = known && known.kind !== 'ca' ? cas.get(known.ca) : undefined;
    const check = inspectCertificate(leaf, { now, soonSeconds, ...(trusted ? { trusted } : {}) });
    if (check.problems.length) out.push({ node: n.node, path: f.path, ...(f.from ? { from: f.from } : {}), info: { ...info, ...(known ? { ca: known.ca } : {}) }, check });
  }
  return out;
}

const TLS_FAILURE = /x509|certificate|alert|verify|authority|HTTP 401|self-signed|Hostname\/IP/i;

export function isTlsFailure(p: EndpointProbe): boolean {
  return !p.result.ok && TLS_FAILURE.test(p.result.error ?? '');
}

export function describeProbe(p: EndpointProbe): string {
  const who = `${p.role} (${p.endpoint}${p.client ? `, client certificate ${p.client}` : ''})`;
  if (p.result.ok) return `handshake ${who}: ok${p.result.httpStatus ? ` (HTTP ${p.result.httpStatus})` : ''}`;
  return `handshake ${who}: ${p.result.error}`;
}

function problemText(c: CertCheck, caPath?: string): string {
  return c.problems
    .map((p) =>
      p === 'expired'
        ? `expired on ${c.notAfter.toISOString()}`
        : p === 'not-yet-valid'
          ? `not valid until ${c.notBefore.toISOString()}`
          : p === 'expiring-soon'
            ? `expires soon, on ${c.notAfter.toISOString()}`
            : `not signed by ${caPath ?? 'its CA'} (issuer ${c.issuer}: a different CA)`,
    )
    .join(', ');
}

/** A CRI log line or journal line shortened to its time and message (etcd: msg and error). */
export function logGist(component: string, line: string): string {
  const at = /^(\d{4}-\d\d-\d\dT[\d:.]+\S*)/.exec(line)?.[1];
  const msg = /"msg":"([^"]*)"/.exec(line)?.[1];
  const err = /"error":"((?:[^"\\]|\\.)*)"/.exec(line)?.[1];
  const text = msg ? `${msg}${err ? `: ${err}` : ''}` : line.replace(/^\S+ (stderr|stdout) [FP] /, '').replace(/^\S+ \S+ \S+\[\d+\]: /, '');
  const short = text.length > 400 ? `${text.slice(0, 400)}...` : text;
  return `${component} log${at ? ` ${at.replace(/\.\d+/, '')}` : ''}: ${short}`;
}

/** log lines are evidence for what is wrong now: older ones (an earlier incident) are left out */
export const LOG_WINDOW_MS = 10 * 60_000;

/** Log lines within the window and, when `sinceMs` is given (the certificate file's mtime), not older than
 *  the file: a line from before it was written is about the certificate it replaced. */
function recentLogs(n: NodeCerts, now: Date, sinceMs?: number): NodeCerts['logs'] {
  return n.logs.filter((l) => {
    const at = Date.parse(/^(\d{4}-\d\d-\d\dT\S+?)(?:\s|$)/.exec(l.line)?.[1] ?? '');
    if (!Number.isFinite(at)) return true;
    return now.getTime() - at <= LOG_WINDOW_MS && (sinceMs === undefined || at >= sinceMs - 1000);
  });
}

function relatedProbes(issue: CertIssue, probes: EndpointProbe[]): EndpointProbe[] {
  const h = issue.info.holder;
  return probes.filter(
    (p) =>
      p.client === issue.path ||
      // the holder's own endpoint: is it up, does it serve
      (h === 'kube-apiserver' && p.role === 'clients -> kube-apiserver') ||
      (h === 'etcd' && p.role.endsWith('etcd')) ||
      (issue.info === KUBELET_SERVING && p.role.endsWith('kubelet')),
  );
}

function resourcesFor(node: string, holder: string, path: string): string[] {
  const owner = holder === 'kubelet' || holder === 'kubectl' ? resourceId('kube-system', 'Node', node) : resourceId('kube-system', 'Pod', `${holder}-${node}`);
  return [owner, resourceId('kube-system', 'CertificateFile', `${node}:${path}`)];
}

export function analyzeControlPlaneCerts(snap: ControlPlaneCertsSnapshot): Finding[] {
  if (snap?.kind !== 'control-plane-certs') return [];
  const now = new Date(snap.takenAt);
  const findings: Finding[] = [];
  for (const n of snap.nodes) {
    const issues = certIssues(n, now, snap.soonSeconds);
    const explained = new Set<EndpointProbe>();
    for (const i of issues) {
      const probes = relatedProbes(i, n.probes);
      probes.forEach((p) => explained.add(p));
      const failing = probes.filter((p) => !p.result.ok);
      const mtime = n.files.find((f) => f.path === i.path && f.mtime)?.mtime;
      const logs = recentLogs(n, now, mtime ? mtime * 1000 : undefined).filter((l) => l.component === i.info.holder || l.component === i.info.peer);
      const caPath = i.info.ca ? CA_FILES[i.info.ca] : undefined;
      const what = problemText(i.check, caPath);
      const stale = i.check.problems.some((p) => p !== 'expiring-soon');
      const effect = failing.length ? `; live: ${failing.map((p) => `${p.role} fails: ${p.result.error}`).join('; ')}` : '';
      findings.push({
        detector: 'control-plane-certs',
        severity: stale ? 'critical' : 'warning',
        summary: `${i.path}${i.from ? ` (client certificate ${i.from})` : ''} on ${n.node} is ${what}: ${i.info.role}, used by ${i.info.holder}${effect}`,
        rootCause: `${i.info.holder} presents a certificate that is ${i.check.problems.join(' and ')}; ${i.info.renewName ? `kubeadm certs renew ${i.info.renewName}, then restart ${i.info.holder}` : `re-issue it from ${caPath ?? 'its CA'} and restart ${i.info.holder}`}`,
        evidence: [
          `${i.path}: subject ${i.check.subject}, issuer ${i.check.issuer}, serial ${i.check.serial}, notBefore ${i.check.notBefore.toISOString()}, notAfter ${i.check.notAfter.toISOString()} (checked ${snap.takenAt})`,
          `problem: ${what}`,
          ...probes.map(describeProbe),
          ...logs.map((l) => logGist(l.component, l.line)),
        ],
        runbook: 'control-plane-certs',
        resources: resourcesFor(n.node, i.info.holder, i.path),
      });
    }
    // a live endpoint failing on certificates that no file explains (a process still holding an old one)
    for (const p of n.probes.filter((x) => isTlsFailure(x) && !explained.has(x))) {
      const holder = p.role.endsWith('etcd') ? 'etcd' : p.role.endsWith('kubelet') ? 'kubelet' : 'kube-apiserver';
      findings.push({
        detector: 'control-plane-certs',
        severity: 'critical',
        summary: `live TLS handshake ${p.role} on ${n.node} fails: ${p.result.error}`,
        rootCause: `the certificate ${holder} serves or is presented (${p.client ?? 'serving certificate'}) is not accepted, although the files on disk look valid: restart ${holder} so it loads them`,
        evidence: [describeProbe(p), ...(p.result.peer ? [`server certificate: ${p.result.peer.subject}, issuer ${p.result.peer.issuer}, notAfter ${p.result.peer.notAfter.toISOString()}`] : []), ...recentLogs(n, now).map((l) => logGist(l.component, l.line))],
        runbook: 'control-plane-certs',
        resources: resourcesFor(n.node, holder, p.client ?? p.endpoint),
      });
    }
  }
  return findings;
}

// ---------- collection ----------

export function soonSecondsFromEnv(env: NodeJS.ProcessEnv = process.env): number {
  const days = Number(env.FAULTLINE_CERT_SOON_DAYS ?? DEFAULT_SOON_DAYS);
  return Number.isFinite(days) && days >= 0 ? days * 86_400 : DEFAULT_SOON_DAYS * 86_400;
}

export async function collectControlPlaneCerts(ctx: KubeContext): Promise<ControlPlaneCertsSnapshot> {
  const snap: ControlPlaneCertsSnapshot = { kind: 'control-plane-certs', takenAt: new Date().toISOString(), soonSeconds: soonSecondsFromEnv(), nodes: [] };
  const na = nodeAccess(ctx);
  if (!na) return snap;
  const all = (await na.provider.nodes(na.cluster)).map((n) => n.name);
  snap.nodes = await scanCluster(na, await controlPlaneNodes(na), all);
  snap.takenAt = new Date().toISOString();
  return snap;
}

export const controlPlaneCertsDetector: Detector<ControlPlaneCertsSnapshot> = {
  id: 'control-plane-certs',
  description: 'expired, not-yet-valid, soon-to-expire or wrong-CA certificates of a kubeadm control plane (files, kubeconfigs, live handshakes; node-level: works with the API down)',
  collect: collectControlPlaneCerts,
  analyze: analyzeControlPlaneCerts,
};
