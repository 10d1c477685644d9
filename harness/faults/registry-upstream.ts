// Set-up for the registry-outage scenarios (the in-cluster Harbor mirror that lost its node): the registry
// outside the cluster that stands in for docker.io. A real registry:2 container on the kind network (started
// with testcontainers, labelled with the run id) holding the victim's images under their docker.io names, and
// every node's /etc/containerd/certs.d/docker.io/hosts.toml pointing straight at it: the cluster as it was
// before the in-cluster mirror existed, so the mirror's first pod is pulled the way the incident's Harbor was.
//
// It is journalled like a fault (applied before the victim is deployed), so revert and `faultline recover`
// remove the container and put every node's hosts.toml back byte for byte.
//
// `existing: true` is for a cluster whose nodes are not on this machine's Docker (or where faultline has no
// Docker): the upstream already runs at http://<alias>:5000, reachable from the nodes and holding the images under
// their `as` names. faultline then starts and pushes nothing, checks from a node that every image is served, and
// writes only the nodes' hosts.toml.
import { z } from 'zod';
import { hostsTomlPath, manifestUrl, parseImageRef, probeFromNode, snapshotHostsToml, renderDirectHosts } from '../cluster/containerd-hosts.js';
import { type NodeAccess, requireNodeAccess } from '../cluster/node-access.js';
import { restoreNodeFile, writeNodeFile, type NodeFileSnapshot } from '../cluster/node-files.js';
import { run } from '../cluster/process.js';
import { describeMissing, findBinary } from '../cluster/binaries.js';
import { containerRunning, docker, removeContainer, startOnNetwork } from '../cluster/network-container.js';
import type { RunContext } from '../cluster/context.js';
import type { Fault } from './types.js';

export const UPSTREAM_LABEL = 'faultline.upstream-registry';

export const RegistryUpstreamParams = z
  .object({
    /** the registry name the nodes' hosts.toml is written for */
    registry: z.string().min(1).default('docker.io'),
    /** Docker network the kind nodes are on */
    network: z.string().min(1).default('kind'),
    /** the upstream's stable name on that network (a network alias), used by hosts.toml and the mirror */
    alias: z.string().regex(/^[a-z0-9][a-z0-9.-]*$/).default('faultline-docker-io'),
    /** the registry image the upstream container runs */
    image: z.string().min(1).default('registry:2'),
    /** local Docker images pushed into the upstream: `from` (local name) as `as` (repository:tag) */
    images: z.array(z.object({ from: z.string().min(1), as: z.string().regex(/^[a-z0-9._/-]+:[A-Za-z0-9._-]+$/) }).strict()).min(1),
    /** the upstream runs already at http://<alias>:5000 with the images in it: no container, no push */
    existing: z.boolean().default(false),
  })
  .strict();
export type RegistryUpstreamParams = z.infer<typeof RegistryUpstreamParams>;

export interface RegistryUpstreamRecord {
  /** the container faultline started; absent when the upstream existed already */
  container?: string;
  alias: string;
  network: string;
  files: NodeFileSnapshot[];
}

export function upstreamUrl(alias: string): string {
  return `http://${alias}:5000`;
}

export function needNodes(ctx: RunContext, what: string): NodeAccess {
  return requireNodeAccess(ctx, `${what} writes containerd's hosts.toml on every node`);
}

/** Starts the upstream and returns the port Docker on this host reaches it at. */
function startUpstream(ctx: RunContext, p: RegistryUpstreamParams, name: string): Promise<number> {
  return startOnNetwork({ name, image: p.image, network: p.network, alias: p.alias, port: 5000, path: '/v2/', labels: { [UPSTREAM_LABEL]: ctx.runId, 'faultline.cluster': ctx.cluster.name } });
}

async function mappedPort(name: string): Promise<number> {
  const res = await run([docker(), 'port', name, '5000/tcp'], { timeoutMs: 30_000 });
  const port = Number(/:(\d+)\s*$/m.exec(res.stdout.trim().split('\n')[0] ?? '')?.[1]);
  if (!port) throw new Error(`upstream ${name} publishes no port for 5000/tcp`);
  return port;
}

/** docker push to 127.0.0.1 needs no TLS (Docker treats loopback registries as insecure by default). */
async function pushImages(ctx: RunContext, port: number, images: RegistryUpstreamParams['images']): Promise<void> {
  for (const img of images) {
    const target = `127.0.0.1:${port}/${img.as}`;
    await run([docker(), 'tag', img.from, target], { timeoutMs: 60_000 });
    try {
      await run([docker(), 'push', '-q', target], { timeoutMs: 300_000 });
    } finally {
      await run([docker(), 'rmi', target], { reject: false, timeoutMs: 60_000 });
    }
    ctx.log(`upstream holds ${img.as} (from local ${img.from})`);
  }
}

/** An upstream that exists already must serve every image from the nodes' side, before any node points at it. */
async function checkExistingUpstream(ctx: RunContext, na: NodeAccess, r: RegistryUpstreamRecord, p: RegistryUpstreamParams): Promise<void> {
  const node = r.files[0]?.node;
  if (!node) throw new Error('the cluster has no nodes');
  const urls = p.images.map((i) => manifestUrl({ url: upstreamUrl(r.alias), overridePath: false }, parseImageRef(`${p.registry}/${i.as}`)));
  const bad = (await probeFromNode(na, node, urls, 15)).filter((x) => x.status !== 200);
  if (bad.length) throw new Error(`the existing upstream ${upstreamUrl(r.alias)} does not serve what the victim pulls (from ${node}): ${bad.map((b) => `${b.url} ${b.outcome}`).join('; ')}`);
  ctx.log(`existing upstream registry ${upstreamUrl(r.alias)} serves ${p.images.map((i) => i.as).join(', ')} (HTTP 200 from ${node})`);
}

export const registryUpstream: Fault<RegistryUpstreamParams, RegistryUpstreamRecord> = {
  type: 'registry-upstream',
  description: 'set-up: a registry container on the kind network standing in for docker.io, and every node pulling straight from it',
  paramsSchema: RegistryUpstreamParams,

  async plan(ctx, p) {
    const na = needNodes(ctx, 'registry-upstream');
    if (!p.existing && !findBinary('docker', 'FAULTLINE_DOCKER')) {
      throw new Error(`the upstream registry is a Docker container on this machine, and ${describeMissing('docker', 'FAULTLINE_DOCKER')}; with a registry the nodes reach at ${upstreamUrl(p.alias)} holding ${p.images.map((i) => i.as).join(', ')}, pass --fault-param registry-upstream.existing=true`);
    }
    const files = await snapshotHostsToml(na, p.registry);
    return { ...(p.existing ? {} : { container: `faultline-upstream-${ctx.runId}` }), alias: p.alias, network: p.network, files };
  },

  async apply(ctx, p, r) {
    const na = needNodes(ctx, 'registry-upstream');
    if (r.container) {
      const port = (await containerRunning(r.container)) ? await mappedPort(r.container) : await startUpstream(ctx, p, r.container);
      ctx.log(`upstream registry ${r.container} on network ${r.network} as ${upstreamUrl(r.alias)} (host port ${port})`);
      await pushImages(ctx, port, p.images);
    } else {
      await checkExistingUpstream(ctx, na, r, p);
    }
    const body = Buffer.from(renderDirectHosts(upstreamUrl(r.alias)), 'utf8');
    for (const f of r.files) await writeNodeFile(na, f.node, f.path, body);
    ctx.log(`${hostsTomlPath(p.registry)} on ${r.files.map((f) => f.node).join(', ')}: ${p.registry} straight from ${upstreamUrl(r.alias)}`);
  },

  async revert(ctx, r) {
    const na = needNodes(ctx, 'registry-upstream');
    // the container goes whatever happens to the files (a node may be gone with its cluster)
    const failed: string[] = [];
    for (const f of r.files) {
      try {
        ctx.log(await restoreNodeFile(na, f));
      } catch (err) {
        failed.push(`${f.node}:${f.path}: ${(err as Error).message}`);
      }
    }
    if (r.container) {
      try {
        ctx.log((await removeContainer(r.container)) ? `removed upstream registry ${r.container}` : `upstream registry ${r.container} already gone`);
      } catch (err) {
        failed.push(`upstream: ${(err as Error).message}`);
      }
    }
    if (failed.length > 0) throw new Error(failed.join('; '));
  },

  describe(r) {
    const restored = `hosts.toml restored on ${r.files.map((f) => f.node).join(', ')}`;
    return r.container ? `upstream registry container ${r.container} removed; ${restored}` : restored;
  },
};
