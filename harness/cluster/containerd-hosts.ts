// containerd's per-registry hosts.toml (config_path = /etc/containerd/certs.d): which endpoints a pull tries,
// in which order, and at which URL. containerd reads the file on every pull (no restart needed), tries each
// [host."..."] in the order written, then `server`; a host without override_path gets "/v2" appended to its path,
// a host with override_path = true is used as the API root exactly as written.
import { parse } from 'smol-toml';
import { nodeSh, type NodeAccess } from './node-access.js';
import { snapshotOnEveryNode, type NodeFileSnapshot } from './node-files.js';

export const CERTS_D = '/etc/containerd/certs.d';

export function hostsTomlPath(registry: string): string {
  return `${CERTS_D}/${registry}/hosts.toml`;
}

export interface ImageRef {
  registry: string;
  repository: string;
  /** tag or digest */
  reference: string;
}

/** Normalizes an image name the way containerd's CRI does ("registry:2" is docker.io/library/registry:2). */
export function parseImageRef(image: string): ImageRef {
  let rest = image;
  let registry = 'docker.io';
  const first = rest.split('/')[0]!;
  if (rest.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost')) {
    registry = first;
    rest = rest.slice(first.length + 1);
  }
  let reference = 'latest';
  const at = rest.indexOf('@');
  if (at >= 0) {
    reference = rest.slice(at + 1);
    rest = rest.slice(0, at);
  } else {
    const colon = rest.lastIndexOf(':');
    if (colon > rest.lastIndexOf('/')) {
      reference = rest.slice(colon + 1);
      rest = rest.slice(0, colon);
    }
  }
  if (registry === 'docker.io' && !rest.includes('/')) rest = `library/${rest}`;
  return { registry, repository: rest, reference };
}

export interface RegistryEndpoint {
  url: string;
  overridePath: boolean;
  capabilities: string[];
  /** "host": a [host."..."] entry, tried in order; "server": tried last */
  role: 'host' | 'server';
}

/** containerd's default server for a registry without one configured. */
export function defaultServer(registry: string): string {
  return registry === 'docker.io' ? 'https://registry-1.docker.io' : `https://${registry}`;
}

/** The endpoints a pull tries, in order: the hosts as written, then the server. */
export function parseHostsToml(text: string, registry: string): RegistryEndpoint[] {
  const doc = parse(text) as Record<string, unknown>;
  const hosts = (doc.host ?? {}) as Record<string, Record<string, unknown>>;
  const out: RegistryEndpoint[] = Object.entries(hosts).map(([url, h]) => ({
    url,
    overridePath: h.override_path === true,
    capabilities: Array.isArray(h.capabilities) ? (h.capabilities as string[]) : ['pull', 'resolve', 'push'],
    role: 'host' as const,
  }));
  const server = typeof doc.server === 'string' ? doc.server : defaultServer(registry);
  out.push({ url: server, overridePath: doc.override_path === true, capabilities: ['pull', 'resolve', 'push'], role: 'server' });
  return out;
}

/** The API root containerd uses for an endpoint. */
export function apiRoot(ep: Pick<RegistryEndpoint, 'url' | 'overridePath'>): string {
  const u = ep.url.replace(/\/+$/, '');
  if (ep.overridePath) return u;
  return /\/v2$/.test(u) ? u : `${u}/v2`;
}

/** The manifest URL a pull of `ref` asks this endpoint for. */
export function manifestUrl(ep: Pick<RegistryEndpoint, 'url' | 'overridePath'>, ref: ImageRef): string {
  return `${apiRoot(ep)}/${ref.repository}/manifests/${ref.reference}`;
}

/** The same endpoint's scheme://host[:port] with the standard /v2 root: where a misplaced path should point. */
export function standardRoot(url: string): string {
  const u = new URL(url);
  return `${u.protocol}//${u.host}`;
}

export interface MirrorConfig {
  /** the in-cluster mirror, tried first */
  mirror: string;
  /** where pulls go when the mirror does not answer */
  fallback: string;
  /** true writes the fallback the way the incident did: an API root that is wrong for the upstream */
  fallbackOverridePath?: boolean;
}

/** hosts.toml for "pull through the mirror, fall back to the upstream". The fallback is both the last host and
 *  the server, so the default server (registry-1.docker.io) never enters the picture. */
export function renderMirrorHosts(c: MirrorConfig): string {
  const ov = c.fallbackOverridePath ? '\noverride_path = true' : '';
  return [
    `# docker.io through the in-cluster mirror, falling back to the upstream (written by faultline)`,
    `server = "${c.fallback}"${ov}`,
    ``,
    `[host."${c.mirror}"]`,
    `  capabilities = ["pull", "resolve"]`,
    ``,
    `[host."${c.fallback}"]`,
    `  capabilities = ["pull", "resolve"]${c.fallbackOverridePath ? '\n  override_path = true' : ''}`,
    ``,
  ].join('\n');
}

/** hosts.toml for pulling straight from the upstream (the set-up before any mirror existed). The upstream is a
 *  [host] entry as well as the server: containerd 1.6.20 (the node image's) ignored a docker.io hosts.toml that
 *  had only `server` and went to registry-1.docker.io (measured with a pod pull on kind). */
export function renderDirectHosts(upstream: string): string {
  return [
    `# docker.io straight from the upstream registry (written by faultline)`,
    `server = "${upstream}"`,
    ``,
    `[host."${upstream}"]`,
    `  capabilities = ["pull", "resolve"]`,
    ``,
  ].join('\n');
}

/** Rewrites every occurrence of one endpoint (host entry and server) to another URL, without override_path;
 *  the other endpoints keep their order. */
export function withEndpointReplaced(text: string, registry: string, from: string, to: string): string {
  const eps = parseHostsToml(text, registry).map((e) => (e.url === from ? { ...e, url: to, overridePath: false } : e));
  const server = eps.find((e) => e.role === 'server')!;
  const lines = [`# rewritten by faultline: ${from} (override_path) replaced by ${to}`, `server = "${server.url}"`];
  if (server.overridePath) lines.push('override_path = true');
  const seen = new Set<string>();
  for (const h of eps.filter((e) => e.role === 'host')) {
    if (seen.has(h.url)) continue;
    seen.add(h.url);
    lines.push('', `[host."${h.url}"]`, `  capabilities = [${h.capabilities.map((c) => `"${c}"`).join(', ')}]`);
    if (h.overridePath) lines.push('  override_path = true');
  }
  return `${lines.join('\n')}\n`;
}

const ACCEPT = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
].join(', ');

export interface ProbeResult {
  url: string;
  /** HTTP status, 0 when no answer */
  status: number;
  /** "HTTP 200", "connection refused", "timed out", ... */
  outcome: string;
}

const CURL_ERRORS: Record<number, string> = { 6: 'name does not resolve', 7: 'connection refused', 28: 'timed out', 52: 'empty reply', 56: 'connection reset' };

export function probeOutcome(status: number, curlExit: number): string {
  if (status > 0) return `HTTP ${status}`;
  return CURL_ERRORS[curlExit] ?? `no answer (curl exit ${curlExit})`;
}

/** HEADs each URL from the node, as containerd would (same network namespace, same name resolution). */
export async function probeFromNode(na: NodeAccess, node: string, urls: string[], timeoutSeconds = 3): Promise<ProbeResult[]> {
  if (urls.length === 0) return [];
  const lines = urls.map(
    (u) => `c=$(curl -s -o /dev/null -I -m ${timeoutSeconds} -H '${'Accept: ' + ACCEPT}' -w '%{http_code}' '${u.replace(/'/g, '')}'); echo "$? $c"`,
  );
  const res = await nodeSh(na, node, lines.join('\n'), (timeoutSeconds + 2) * urls.length * 1000 + 5_000);
  const out = res.stdout.trim().split('\n');
  return urls.map((url, i) => {
    const [exit = '1', code = '0'] = (out[i] ?? '').trim().split(/\s+/);
    const status = Number(code) || 0;
    return { url, status, outcome: probeOutcome(status, Number(exit)) };
  });
}

/** `[header]` or `[host."…".header]` tables: extra HTTP headers, e.g. Authorization */
export function hasHeaderTables(text: string): boolean {
  return /^\s*\[(host\.("[^"]*"|[^\].]*)\.)?header\]/m.test(text);
}

/** The hosts.toml of every node, captured for the journal: refused when one carries `header` tables (they may
 *  hold registry credentials, and the journal keeps the bytes). */
export async function snapshotHostsToml(na: NodeAccess, registry: string): Promise<NodeFileSnapshot[]> {
  const snaps = await snapshotOnEveryNode(na, hostsTomlPath(registry));
  for (const f of snaps) {
    const text = f.b64 ? Buffer.from(f.b64, 'base64').toString('utf8') : '';
    if (hasHeaderTables(text)) {
      throw new Error(`${f.path} on ${f.node} has header entries (they may hold credentials, and faultline journals this file); use a cluster whose registry config carries none`);
    }
  }
  return snaps;
}
