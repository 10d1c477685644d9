// Pods that cannot pull (ErrImagePull / ImagePullBackOff), grouped by registry host, explained from the nodes:
// each node's containerd hosts.toml for that registry is read and every endpoint in it is probed from the node
// (a HEAD of the failing image's manifest, at the URL containerd asks). The finding names the defect, e.g.
// "mirror http://10.96.77.77:5000 down (connection refused), no working fallback for docker.io on nodes A, B:
// http://up:5000/v2/docker.io (override_path = true) answers HTTP 404 ...", and flags a mirror whose own image
// is served by the mirror (a circular dependency). KubeContainerWaiting waits an hour for the same pods.
import {
  hostsTomlPath,
  manifestUrl,
  parseHostsToml,
  parseImageRef,
  probeFromNode,
  standardRoot,
  type ImageRef,
  type ProbeResult,
  type RegistryEndpoint,
} from '../cluster/containerd-hosts.js';
import { nodeAccess } from '../cluster/node-access.js';
import { readNodeFile } from '../cluster/node-files.js';
import type { KubeContext } from '../cluster/context.js';
import { scopedPods } from './snapshot.js';
import { resourceId, type Detector, type Finding } from './types.js';

export const PULL_FAILURES = new Set(['ErrImagePull', 'ImagePullBackOff']);

export interface PullFailure {
  namespace: string;
  pod: string;
  node?: string;
  container: string;
  image: string;
  reason: string;
  message?: string;
}

export interface EndpointView extends RegistryEndpoint {
  probe?: ProbeResult;
  /** the same endpoint with the standard API root (scheme://host/v2), probed when its own root is not */
  standard?: ProbeResult;
}

export interface NodeRegistryView {
  node: string;
  path: string;
  /** undefined when the node has no hosts.toml for the registry */
  endpoints?: EndpointView[];
  error?: string;
}

export interface ServiceInfo {
  namespace: string;
  name: string;
  urls: string[];
  selector: Record<string, string>;
}

export interface PodImages {
  namespace: string;
  name: string;
  labels: Record<string, string>;
  images: string[];
}

export interface RegistrySnapshot {
  failures: PullFailure[];
  services: ServiceInfo[];
  pods: PodImages[];
  /** per registry host: the image probed and what each node's containerd would try */
  registries: Record<string, { image: string; nodes: NodeRegistryView[] }>;
  nodeAccess: boolean;
}

export function pullFailures(pods: Array<Record<string, any>>): PullFailure[] {
  const out: PullFailure[] = [];
  for (const p of pods) {
    for (const s of [...(p.status?.initContainerStatuses ?? []), ...(p.status?.containerStatuses ?? [])]) {
      const reason = s.state?.waiting?.reason as string | undefined;
      if (!reason || !PULL_FAILURES.has(reason)) continue;
      out.push({
        namespace: p.metadata.namespace,
        pod: p.metadata.name,
        node: p.spec?.nodeName,
        container: s.name,
        image: s.image,
        reason,
        ...(s.state.waiting.message ? { message: s.state.waiting.message } : {}),
      });
    }
  }
  return out;
}

/** In back-off the pod's status says only "Back-off pulling image"; the kubelet's Failed event has the error. */
async function addPullErrors(ctx: KubeContext, failures: PullFailure[]): Promise<void> {
  const vague = failures.filter((f) => !f.message || /^Back-off pulling image "[^"]*"$/.test(f.message.trim()));
  if (vague.length === 0) return;
  const nss = [...new Set(vague.map((f) => f.namespace))];
  const lists = await Promise.all(nss.map((namespace) => ctx.kube.core.listNamespacedEvent({ namespace, fieldSelector: 'reason=Failed,involvedObject.kind=Pod' }).catch(() => ({ items: [] }))));
  const events = lists.flatMap((l) => l.items);
  for (const f of vague) {
    const e = events
      .filter((x) => x.involvedObject?.name === f.pod && x.involvedObject?.namespace === f.namespace && /Failed to pull image/.test(x.message ?? ''))
      .sort((a, b) => String(b.lastTimestamp ?? '').localeCompare(String(a.lastTimestamp ?? '')))[0];
    if (e?.message) f.message = e.message;
  }
}

/** Endpoint probes for one node: every endpoint at the URL containerd asks, and the standard root of those
 *  whose own root does not serve (to tell "wrong path" from "registry down"). */
async function nodeView(ctx: KubeContext, node: string, registry: string, ref: ImageRef): Promise<NodeRegistryView> {
  const na = nodeAccess(ctx)!;
  const path = hostsTomlPath(registry);
  try {
    const bytes = await readNodeFile(na, node, path);
    if (!bytes) return { node, path };
    const eps = parseHostsToml(bytes.toString('utf8'), registry);
    const probes = await probeFromNode(na, node, eps.map((e) => manifestUrl(e, ref)));
    const endpoints: EndpointView[] = eps.map((e, i) => ({ ...e, probe: probes[i] }));
    const retry = endpoints.filter((e) => e.probe?.status === 404 && manifestUrl(e, ref) !== manifestUrl({ url: standardRoot(e.url), overridePath: false }, ref));
    const std = await probeFromNode(na, node, retry.map((e) => manifestUrl({ url: standardRoot(e.url), overridePath: false }, ref)));
    retry.forEach((e, i) => (e.standard = std[i]));
    return { node, path, endpoints };
  } catch (err) {
    return { node, path, error: (err as Error).message };
  }
}

export async function collectRegistry(ctx: KubeContext): Promise<RegistrySnapshot> {
  const raw = (await scopedPods(ctx)) as Array<Record<string, any>>;
  const failures = pullFailures(raw);
  const snap: RegistrySnapshot = { failures, services: [], pods: [], registries: {}, nodeAccess: !!nodeAccess(ctx) };
  if (failures.length === 0) return snap;
  await addPullErrors(ctx, failures);
  snap.pods = raw.map((p) => ({
    namespace: p.metadata.namespace,
    name: p.metadata.name,
    labels: p.metadata.labels ?? {},
    images: (p.spec?.containers ?? []).map((c: { image: string }) => c.image),
  }));
  const svcs = ctx.namespaces
    ? (await Promise.all(ctx.namespaces.map((namespace) => ctx.kube.core.listNamespacedService({ namespace })))).flatMap((l) => l.items)
    : (await ctx.kube.core.listServiceForAllNamespaces()).items;
  snap.services = svcs
    .filter((s) => s.spec?.clusterIP && s.spec.clusterIP !== 'None')
    .map((s) => ({
      namespace: s.metadata!.namespace!,
      name: s.metadata!.name!,
      urls: (s.spec!.ports ?? []).flatMap((p) => [`http://${s.spec!.clusterIP}:${p.port}`, `https://${s.spec!.clusterIP}:${p.port}`]),
      selector: s.spec!.selector ?? {},
    }));
  const na = nodeAccess(ctx);
  const byRegistry = new Map<string, string>();
  for (const f of failures) if (!byRegistry.has(parseImageRef(f.image).registry)) byRegistry.set(parseImageRef(f.image).registry, f.image);
  const nodes = na ? (await na.provider.nodes(na.cluster)).map((n) => n.name) : [];
  for (const [registry, image] of byRegistry) {
    const ref = parseImageRef(image);
    snap.registries[registry] = { image, nodes: await Promise.all(nodes.map((n) => nodeView(ctx, n, registry, ref))) };
  }
  return snap;
}

/** The fallbacks (every endpoint after the first), one entry per URL: a URL that is both the last host and the
 *  server is tried twice but described once. */
export function fallbacks(endpoints: EndpointView[]): Array<EndpointView & { alsoServer: boolean }> {
  const out: Array<EndpointView & { alsoServer: boolean }> = [];
  for (const e of endpoints.slice(1)) {
    const same = out.find((o) => o.url === e.url && o.overridePath === e.overridePath);
    if (same) same.alsoServer ||= e.role === 'server';
    else out.push({ ...e, alsoServer: false });
  }
  return out;
}

function describeEndpoint(e: EndpointView & { alsoServer?: boolean }, ref: ImageRef): string {
  const role = e.role === 'server' ? 'server' : e.alsoServer ? 'fallback host and server' : 'fallback host';
  const what = `${role} ${e.url}${e.overridePath ? ' (override_path = true)' : ''}`;
  let text = `${what} answers ${e.probe?.outcome ?? 'unknown'} for ${ref.repository}:${ref.reference}`;
  if (e.probe && e.probe.status !== 200) text += ` (containerd asks ${e.probe.url})`;
  if (e.standard?.status === 200) text += `; the same registry serves it at ${e.standard.url} (HTTP 200): the API root written in hosts.toml is wrong for it`;
  return text;
}

function matches(labels: Record<string, string>, selector: Record<string, string>): boolean {
  return Object.keys(selector).length > 0 && Object.entries(selector).every(([k, v]) => labels[k] === v);
}

/** Mirrors whose own pods pull their image from the registry the mirror serves. */
function circularDependencies(s: RegistrySnapshot, registry: string, mirrorUrls: Set<string>): string[] {
  const out: string[] = [];
  for (const svc of s.services) {
    const url = svc.urls.find((u) => mirrorUrls.has(u));
    if (!url) continue;
    const own = s.pods.filter((p) => p.namespace === svc.namespace && matches(p.labels, svc.selector));
    const images = [...new Set(own.flatMap((p) => p.images).filter((i) => parseImageRef(i).registry === registry))];
    if (images.length === 0) continue;
    out.push(
      `circular dependency: the mirror's own image ${images.join(', ')} (pods ${own.map((p) => `${p.namespace}/${p.name}`).join(', ')}) ` +
        `is served by the mirror itself (Service ${svc.namespace}/${svc.name} ${url} is the first ${registry} host in hosts.toml): ` +
        `when the mirror's node goes away, its replacement cannot be pulled through it`,
    );
  }
  return out;
}

export type PullErrorClass = 'dns' | 'refused' | 'timeout' | 'tls' | 'auth' | 'not-found' | 'rate-limited' | 'unknown';

/** What the kubelet's pull error says, as a class, a cause in words and what to change. */
export function classifyPullError(message: string | undefined, registry: string, image: string): { class: PullErrorClass; cause: string; change: string } {
  const m = message ?? '';
  const host = /lookup ([^\s:]+)/.exec(m)?.[1] ?? registry;
  if (/no such host|server misbehaving|Temporary failure in name resolution/i.test(m)) {
    return { class: 'dns', cause: `the registry host ${host} does not resolve (no such host)`, change: `the image's registry host (${image}), or the nodes' DNS if ${host} is right` };
  }
  if (/connection refused/i.test(m)) return { class: 'refused', cause: `nothing answers at ${registry} (connection refused)`, change: `the registry address in ${image}, or bring the registry at ${registry} up` };
  if (/i\/o timeout|deadline exceeded|timed out|TLS handshake timeout/i.test(m)) {
    return { class: 'timeout', cause: `connections to ${registry} time out`, change: `the network path from the nodes to ${registry} (firewall, proxy), or a mirror the nodes can reach` };
  }
  if (/x509|tls: |certificate/i.test(m)) {
    return { class: 'tls', cause: `the TLS certificate of ${registry} is not accepted (${/(x509: [^"\n]+|tls: [^"\n]+)/.exec(m)?.[1]?.trim() ?? 'TLS error'})`, change: `the certificate of ${registry}, or the CA containerd trusts for it (hosts.toml "ca")` };
  }
  if (/401|403|unauthorized|forbidden|authorization failed|pull access denied|insufficient_scope|denied/i.test(m)) {
    return { class: 'auth', cause: `${registry} refuses the pull (not authorised)`, change: `the pod's imagePullSecrets (a Secret of type kubernetes.io/dockerconfigjson for ${registry}), or the image's visibility` };
  }
  if (/429|toomanyrequests|too many requests|rate limit/i.test(m)) return { class: 'rate-limited', cause: `${registry} rate-limits the pulls (429)`, change: `authenticated pulls, or a mirror of ${registry}` };
  if (/not found|manifest unknown|404|name unknown/i.test(m)) {
    return { class: 'not-found', cause: `${registry} has no ${image.includes('@') ? 'such digest' : 'such repository or tag'} (${image})`, change: `the image name or tag in the pod template (${image})` };
  }
  return { class: 'unknown', cause: `image pulls from ${registry} fail${m ? `: ${m.slice(0, 200)}` : ''}`, change: `what the kubelet's message names` };
}

export function analyzeRegistry(s: RegistrySnapshot): Finding[] {
  const findings: Finding[] = [];
  const groups = new Map<string, PullFailure[]>();
  // a snapshot of another shape (the shared healthy fixture) has no failures
  for (const f of s.failures ?? []) {
    const reg = parseImageRef(f.image).registry;
    groups.set(reg, [...(groups.get(reg) ?? []), f]);
  }
  for (const [registry, failures] of groups) {
    const podLines = failures.map((f) => `pod ${f.namespace}/${f.pod} on ${f.node ?? '(unscheduled)'}: ${f.reason} ${f.image}${f.message ? `: ${f.message}` : ''}`);
    const resources = [...new Set(failures.map((f) => resourceId(f.namespace, 'Pod', f.pod)))];
    const view = s.registries[registry];
    const ref = parseImageRef(view?.image ?? failures[0]!.image);
    const configured = (view?.nodes ?? []).filter((n) => n.endpoints);
    if (!s.nodeAccess || configured.length === 0) {
      // the kubelet's own error, classified; the most frequent class names the cause
      const classes = failures.map((f) => classifyPullError(f.message, registry, f.image));
      const counts = new Map<PullErrorClass, number>();
      for (const c of classes) counts.set(c.class, (counts.get(c.class) ?? 0) + 1);
      const top = classes.find((c) => c.class === [...counts].sort((a, b) => b[1] - a[1])[0]![0])!;
      findings.push({
        detector: 'registry-mirror',
        severity: 'critical',
        summary: `${failures.length} container(s) cannot pull from ${registry}: ${top.cause}${s.nodeAccess ? ` (no hosts.toml for ${registry} on any node)` : ''}`,
        rootCause: `${top.cause}; to change: ${top.change}`,
        evidence: podLines,
        runbook: 'registry-mirror-fallback',
        resources,
      });
      continue;
    }
    // nodes where no endpoint serves the image: the defect, grouped by its description
    const broken = configured.filter((n) => !n.endpoints!.some((e) => e.probe?.status === 200));
    if (broken.length === 0) continue; // every node has a working path now: the next retry pulls
    const byDefect = new Map<string, string[]>();
    for (const n of broken) {
      const first = n.endpoints![0]!;
      const rest = fallbacks(n.endpoints!);
      const text = `mirror ${first.url} ${first.probe?.status === 0 ? 'down' : 'does not serve the image'} (${first.probe?.outcome}), no working fallback for ${registry}: ${rest.map((e) => describeEndpoint(e, ref)).join('; ')}`;
      byDefect.set(text, [...(byDefect.get(text) ?? []), n.node]);
    }
    const defects = [...byDefect].map(([text, nodes]) => {
      const [head, tail] = text.split(`no working fallback for ${registry}: `);
      return `${head}no working fallback for ${registry} on nodes ${nodes.join(', ')}: ${tail}`;
    });
    const mirrorUrls = new Set(broken.map((n) => n.endpoints![0]!.url.replace(/\/+$/, '')));
    const circular = circularDependencies(s, registry, mirrorUrls);
    const wrongRoot = broken.some((n) => n.endpoints!.some((e) => e.standard?.status === 200));
    findings.push({
      detector: 'registry-mirror',
      severity: 'critical',
      summary: [defects.join(' | '), ...circular].join('; '),
      rootCause: `the ${registry} mirror is unreachable and containerd's fallback ${wrongRoot ? 'points at an API root the upstream does not serve (override_path with a wrong path), so it never falls back' : 'does not serve the images either'}${circular.length ? '; the mirror pulls its own image through itself' : ''}`,
      evidence: [
        ...podLines,
        ...configured.map((n) => `${n.node} ${n.path}: ${n.endpoints!.map((e) => `${e.url}${e.overridePath ? ' [override_path]' : ''} -> ${e.probe?.outcome}`).join(', ')}`),
        ...circular,
      ],
      runbook: 'registry-mirror-fallback',
      resources,
    });
  }
  return findings;
}

export const registryMirrorDetector: Detector<RegistrySnapshot> = {
  id: 'registry-mirror',
  description: 'ErrImagePull/ImagePullBackOff grouped by registry; probes the mirror and fallbacks in each node\'s containerd hosts.toml; flags a mirror served by itself',
  collect: collectRegistry,
  analyze: analyzeRegistry,
};
