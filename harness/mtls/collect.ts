// Reads what the stale-certificate detector needs: every kubernetes.io/tls Secret (checked against its own
// ca.crt, data never kept), the certificate each pod mounting one actually serves on its TLS ports (a real
// handshake through port-forward), the handshake errors in those pods' logs, and node clocks against the host.
// The snapshot holds certificate facts only (names, serials, fingerprints, dates, problems).
import type { V1Pod } from '@kubernetes/client-node';
import { inspectCertificate, parseCertificates, probeTls, type CertCheck } from '../certs/index.js';
import { nodeAccess } from '../cluster/node-access.js';
import type { KubeContext } from '../cluster/context.js';
import { mountedSecrets } from './pods.js';
import { podPortStream } from './port-forward.js';
import { pemOf } from './workload.js';

export const SOON_SECONDS = 7 * 86_400;
/** how far back pod logs are read for handshake errors */
export const LOG_WINDOW_SECONDS = 120;

export interface SecretCert {
  namespace: string;
  name: string;
  resourceVersion: string;
  /** tls.crt checked against the Secret's own ca.crt */
  cert?: CertCheck;
  /** the trust bundle (ca.crt): subject and fingerprint of each CA */
  cas: Array<{ subject: string; fingerprint256: string }>;
  /** what uses it: pods that mount it ("Pod name") and Ingresses that terminate TLS with it ("Ingress name") */
  usedBy?: string[];
  error?: string;
}

export interface ServedCert {
  namespace: string;
  pod: string;
  node?: string;
  startedAt?: string;
  secret: string;
  port: number;
  /** the served leaf, checked against the Secret's current ca.crt */
  cert?: CertCheck;
  error?: string;
}

export interface LogSignal {
  namespace: string;
  pod: string;
  message: string;
  count: number;
}

export interface NodeClock {
  node: string;
  /** node clock minus host clock, ms (midpoint of the exec round trip) */
  offsetMs: number;
  rttMs: number;
}

export interface WorkloadCertSnapshot {
  kind: 'workload-certs';
  takenAt: string;
  secrets: SecretCert[];
  served: ServedCert[];
  logs: LogSignal[];
  /** undefined: node clocks are not visible with this provider */
  clocks?: NodeClock[];
}

const TLS_PORT = /https|tls/i;
const HANDSHAKE = /SSL_do_handshake\(\) failed|certificate verify (?:error|failed)|SSL certificate verify error|handshake failed|connection reset/i;

/** The message part of an nginx error line: after "*conn " and before ", client:". */
export function logMessage(line: string): string {
  const m = /\[(?:error|crit|info|warn|notice)\] \d+#\d+: (?:\*\d+ )?(.*?)(?:, client: .*)?$/.exec(line);
  return (m?.[1] ?? line).trim().slice(0, 300);
}

export function groupLogSignals(namespace: string, pod: string, log: string): LogSignal[] {
  const counts = new Map<string, number>();
  for (const line of log.split('\n')) {
    if (!HANDSHAKE.test(line)) continue;
    const msg = logMessage(line);
    counts.set(msg, (counts.get(msg) ?? 0) + 1);
  }
  return [...counts].map(([message, count]) => ({ namespace, pod, message, count }));
}

function secretCert(namespace: string, s: { metadata?: { name?: string; resourceVersion?: string }; data?: Record<string, string> }, now: Date): SecretCert {
  const out: SecretCert = { namespace, name: s.metadata!.name!, resourceVersion: s.metadata?.resourceVersion ?? '', cas: [], usedBy: [] };
  try {
    const cas = parseCertificates(pemOf(s, 'ca.crt'));
    out.cas = cas.map((c) => ({ subject: inspectCertificate(c).subject, fingerprint256: c.fingerprint256 }));
    const leaf = parseCertificates(pemOf(s, 'tls.crt'))[0];
    if (leaf) out.cert = inspectCertificate(leaf, { now, soonSeconds: SOON_SECONDS, ...(cas.length ? { trusted: cas } : {}) });
  } catch (err) {
    out.error = `cannot parse: ${(err as Error).message}`;
  }
  return out;
}

async function servedCert(ctx: KubeContext, pod: V1Pod, secret: string, port: number, trusted: string, now: Date): Promise<ServedCert> {
  const namespace = pod.metadata!.namespace!;
  const name = pod.metadata!.name!;
  const base: ServedCert = {
    namespace,
    pod: name,
    secret,
    port,
    ...(pod.spec?.nodeName ? { node: pod.spec.nodeName } : {}),
    ...(pod.status?.startTime ? { startedAt: new Date(pod.status.startTime).toISOString() } : {}),
  };
  let fwd: Awaited<ReturnType<typeof podPortStream>> | undefined;
  try {
    fwd = await podPortStream(ctx.kube.kc, namespace, name, port);
    const cas = parseCertificates(trusted);
    const res = await probeTls({ host: name, port, socket: fwd.stream, timeoutMs: 8_000, inspect: { now, soonSeconds: SOON_SECONDS, ...(cas.length ? { trusted: cas } : {}) } });
    if (res.peer) return { ...base, cert: res.peer };
    return { ...base, error: res.error ?? 'no certificate served' };
  } catch (err) {
    return { ...base, error: (err as Error).message };
  } finally {
    fwd?.close();
  }
}

async function nodeClocks(ctx: KubeContext): Promise<NodeClock[] | undefined> {
  const na = nodeAccess(ctx);
  if (!na) return undefined;
  const out: NodeClock[] = [];
  for (const n of await na.provider.nodes(na.cluster)) {
    const t0 = Date.now();
    const res = await na.provider.exec(na.cluster, n.name, ['date', '+%s.%N'], { timeoutMs: 10_000 }).catch(() => undefined);
    const t1 = Date.now();
    const nodeMs = Number(res?.stdout.trim()) * 1000;
    if (res?.exitCode === 0 && Number.isFinite(nodeMs)) out.push({ node: n.name, offsetMs: Math.round((nodeMs - (t0 + t1) / 2) * 10) / 10, rttMs: t1 - t0 });
  }
  return out;
}

export async function collectWorkloadCerts(ctx: KubeContext): Promise<WorkloadCertSnapshot> {
  const now = new Date();
  const core = ctx.kube.core;
  const snap: WorkloadCertSnapshot = { kind: 'workload-certs', takenAt: now.toISOString(), secrets: [], served: [], logs: [] };
  const secretLists = ctx.namespaces
    ? await Promise.all(ctx.namespaces.map((namespace) => core.listNamespacedSecret({ namespace, fieldSelector: 'type=kubernetes.io/tls' })))
    : [await core.listSecretForAllNamespaces({ fieldSelector: 'type=kubernetes.io/tls' })];
  const byKey = new Map<string, string>();
  for (const s of secretLists.flatMap((l) => l.items)) {
    const ns = s.metadata!.namespace!;
    snap.secrets.push(secretCert(ns, s, now));
    byKey.set(`${ns}/${s.metadata!.name}`, pemOf(s, 'ca.crt'));
  }
  const namespaces = [...new Set(snap.secrets.map((s) => s.namespace))];
  const jobs: Array<Promise<void>> = [];
  const use = (namespace: string, secret: string, user: string) => {
    const s = snap.secrets.find((x) => x.namespace === namespace && x.name === secret);
    if (s) s.usedBy = [...new Set([...(s.usedBy ?? []), user])];
  };
  for (const namespace of namespaces) {
    const all = (await core.listNamespacedPod({ namespace })).items;
    for (const pod of all) for (const s of mountedSecrets(pod)) use(namespace, s, `Pod ${pod.metadata!.name}`);
    const ingresses = await ctx.kube.objects.list('networking.k8s.io/v1', 'Ingress', namespace).catch(() => ({ items: [] }));
    for (const ing of ingresses.items as Array<{ metadata?: { name?: string }; spec?: { tls?: Array<{ secretName?: string }> } }>) {
      for (const t of ing.spec?.tls ?? []) if (t.secretName) use(namespace, t.secretName, `Ingress ${ing.metadata?.name}`);
    }
    const pods = all.filter((p) => p.status?.phase === 'Running' && !p.metadata?.deletionTimestamp);
    for (const pod of pods) {
      const secret = mountedSecrets(pod).find((s) => byKey.has(`${namespace}/${s}`));
      if (!secret) continue;
      const ports = (pod.spec?.containers ?? []).flatMap((c) => c.ports ?? []).filter((p) => TLS_PORT.test(p.name ?? ''));
      for (const p of ports) jobs.push(servedCert(ctx, pod, secret, p.containerPort, byKey.get(`${namespace}/${secret}`)!, now).then((s) => void snap.served.push(s)));
      jobs.push(
        core
          .readNamespacedPodLog({ name: pod.metadata!.name!, namespace, container: pod.spec!.containers[0]!.name, sinceSeconds: LOG_WINDOW_SECONDS, tailLines: 2000 })
          .then((log) => void snap.logs.push(...groupLogSignals(namespace, pod.metadata!.name!, String(log ?? ''))))
          .catch(() => undefined),
      );
    }
  }
  const clocks = nodeClocks(ctx).catch(() => undefined);
  await Promise.all(jobs);
  const c = await clocks;
  if (c) snap.clocks = c;
  snap.served.sort((a, b) => `${a.namespace}/${a.pod}`.localeCompare(`${b.namespace}/${b.pod}`));
  return snap;
}
