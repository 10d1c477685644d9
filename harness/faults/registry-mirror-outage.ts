// The Harbor mirror outage (bare-metal Talos, 2023): every node pulled docker.io through the in-cluster Harbor,
// with a fallback the operator believed in (`https://docker.io/v2` with Talos' overridePath). The node running
// Harbor went away; Harbor's pods had to be rescheduled, but their own images came through Harbor, and the
// fallback did not fall back: ImagePullBackOff everywhere, the operator included.
//
// The fault, in two steps, as it happened:
// 1. the mirror configuration is rolled out to every node's containerd (/etc/containerd/certs.d/<registry>/
//    hosts.toml): the mirror's fixed ClusterIP first, then the fallback. `fallback: broken` writes the fallback
//    the incident's way: override_path = true with an API root that is wrong for the upstream
//    (http://<upstream>:5000/v2/docker.io), so the upstream answers 404; `fallback: working` writes the upstream
//    as it is (the variant that recovers on its own). containerd reads hosts.toml per pull: nothing restarts.
// 2. the mirror's node goes away: the victim's images are removed from every other node's containerd (so the
//    pods really have to pull), the node is cordoned and the victim's pods on it are evicted (a drain).
//
// The journal keeps every node's hosts.toml (bytes + sha256; it holds no secrets) and whether the node was
// schedulable; revert writes the files back byte for byte and uncordons, and restarts nothing.
import { z } from 'zod';
import { hostsTomlPath, snapshotHostsToml, manifestUrl, parseImageRef, probeFromNode, renderMirrorHosts, type ProbeResult } from '../cluster/containerd-hosts.js';
import { isNotFound, mergePatch } from '../cluster/kube.js';
import { nodeSh } from '../cluster/node-access.js';
import { restoreNodeFile, writeNodeFile, type NodeFileSnapshot } from '../cluster/node-files.js';
import type { RunContext } from '../cluster/context.js';
import { sleep } from '../core/poll.js';
import { needNodes, upstreamUrl } from './registry-upstream.js';
import type { Fault } from './types.js';

export const RegistryMirrorOutageParams = z
  .object({
    namespace: z.string().min(1),
    /** the mirror's Service (a fixed ClusterIP, reachable from the nodes' host network through kube-proxy) */
    service: z.string().min(1).default('mirror'),
    registry: z.string().min(1).default('docker.io'),
    /** the upstream's name on the kind network (registry-upstream's alias) */
    upstream: z.string().min(1).default('faultline-docker-io'),
    fallback: z.enum(['broken', 'working']),
    /** the broken fallback's API root path (with override_path = true): the incident's Harbor-style path */
    brokenPath: z.string().regex(/^\/[A-Za-z0-9._/-]*$/).default('/v2/docker.io'),
  })
  .strict();
export type RegistryMirrorOutageParams = z.infer<typeof RegistryMirrorOutageParams>;

export interface RegistryMirrorOutageRecord {
  namespace: string;
  registry: string;
  /** the node that goes away (the mirror's) */
  node: string;
  wasUnschedulable: boolean;
  mirrorUrl: string;
  fallbackUrl: string;
  brokenFallback: boolean;
  images: string[];
  files: NodeFileSnapshot[];
}

async function victimPods(ctx: RunContext, namespace: string) {
  const pods = (await ctx.kube.core.listNamespacedPod({ namespace })).items;
  return pods.filter((p) => !p.metadata?.deletionTimestamp && p.status?.phase !== 'Succeeded' && p.status?.phase !== 'Failed');
}

export async function mirrorServiceUrl(ctx: RunContext, namespace: string, service: string): Promise<{ url: string; selector: Record<string, string> }> {
  const svc = await ctx.kube.core.readNamespacedService({ name: service, namespace });
  const ip = svc.spec?.clusterIP;
  const port = svc.spec?.ports?.[0]?.port;
  if (!ip || ip === 'None' || !port) throw new Error(`Service ${namespace}/${service} has no ClusterIP and port for containerd to reach`);
  return { url: `http://${ip}:${port}`, selector: svc.spec?.selector ?? {} };
}

function matches(labels: Record<string, string> | undefined, selector: Record<string, string>): boolean {
  return Object.keys(selector).length > 0 && Object.entries(selector).every(([k, v]) => labels?.[k] === v);
}

/** ctr image names are fully qualified: docker.io/library/registry:2 */
export function qualifiedImage(image: string): string {
  const r = parseImageRef(image);
  return `${r.registry}/${r.repository}${r.reference.includes(':') ? '@' : ':'}${r.reference}`;
}

export const registryMirrorOutage: Fault<RegistryMirrorOutageParams, RegistryMirrorOutageRecord> = {
  type: 'registry-mirror-outage',
  description: "roll out the mirror's hosts.toml (with a broken or a working fallback) to every node, then drain the mirror's node",
  paramsSchema: RegistryMirrorOutageParams,

  async plan(ctx, p) {
    const na = needNodes(ctx, 'registry-mirror-outage');
    const { url: mirrorUrl, selector } = await mirrorServiceUrl(ctx, p.namespace, p.service);
    const pods = await victimPods(ctx, p.namespace);
    const mirrorNodes = [...new Set(pods.filter((x) => matches(x.metadata?.labels, selector)).map((x) => x.spec?.nodeName).filter(Boolean))] as string[];
    if (mirrorNodes.length !== 1) throw new Error(`expected the mirror's pods on one node, found them on [${mirrorNodes.join(', ')}]`);
    const node = mirrorNodes[0]!;
    const elsewhere = pods.filter((x) => x.spec?.nodeName && x.spec.nodeName !== node).map((x) => x.metadata?.name);
    if (elsewhere.length) throw new Error(`victim pods not on the mirror's node ${node}: ${elsewhere.join(', ')}; their images would stay cached`);
    const images = [...new Set(pods.flatMap((x) => (x.spec?.containers ?? []).map((c) => c.image!)).filter(Boolean))].sort();
    const nodeObj = await ctx.kube.core.readNode({ name: node });
    const files = await snapshotHostsToml(na, p.registry);
    const fallbackUrl = p.fallback === 'broken' ? `${upstreamUrl(p.upstream)}${p.brokenPath}` : upstreamUrl(p.upstream);
    return {
      namespace: p.namespace,
      registry: p.registry,
      node,
      wasUnschedulable: nodeObj.spec?.unschedulable === true,
      mirrorUrl,
      fallbackUrl,
      brokenFallback: p.fallback === 'broken',
      images,
      files,
    };
  },

  async apply(ctx, p, r) {
    const na = needNodes(ctx, 'registry-mirror-outage');
    // 1. the mirror configuration, as rolled out long before the outage
    const body = Buffer.from(renderMirrorHosts({ mirror: r.mirrorUrl, fallback: r.fallbackUrl, fallbackOverridePath: r.brokenFallback }), 'utf8');
    for (const f of r.files) await writeNodeFile(na, f.node, f.path, body);
    ctx.log(`${hostsTomlPath(r.registry)} on ${r.files.length} node(s): ${r.mirrorUrl} first, fallback ${r.fallbackUrl}${r.brokenFallback ? ' (override_path = true)' : ''}`);
    // the mirror serves (and caches) the victim's images before it goes away
    // (a first fetch through a fresh pull-through cache can be slow: a few tries)
    const urls = r.images.map((i) => manifestUrl({ url: r.mirrorUrl, overridePath: false }, parseImageRef(i)));
    let bad: ProbeResult[] = [];
    for (let attempt = 1; attempt <= 6; attempt++) {
      bad = (await probeFromNode(na, r.node, urls, 15)).filter((x) => x.status !== 200);
      if (bad.length === 0) break;
      ctx.log(`mirror probe ${attempt}: ${bad.map((b) => `${b.url} ${b.outcome}`).join('; ')}`);
      // a registry container restarted by revert answers within seconds; six looks 3 s apart cover that
      await sleep(3_000, ctx.signal);
    }
    if (bad.length) throw new Error(`the mirror does not serve the victim's images before the outage: ${bad.map((b) => `${b.url} ${b.outcome}`).join('; ')}`);
    ctx.log(`mirror ${r.mirrorUrl} serves ${r.images.join(', ')} (HTTP 200 from ${r.node})`);
    // 2. the node goes away, and nowhere else has the images cached
    const others = r.files.map((f) => f.node).filter((n) => n !== r.node);
    const refs = r.images.map(qualifiedImage);
    for (const n of others) {
      const res = await nodeSh(na, n, `ctr -n k8s.io images rm ${refs.join(' ')} >/dev/null 2>&1; ctr -n k8s.io images ls -q | grep -Fx -e ${refs.map((x) => `'${x}'`).join(' -e ')} || true`, 60_000);
      if (res.stdout.trim()) throw new Error(`${n} still has ${res.stdout.trim().split('\n').join(', ')} cached`);
    }
    ctx.log(`${refs.join(', ')} absent from containerd on ${others.join(', ')}`);
    await ctx.kube.core.patchNode({ name: r.node, body: { spec: { unschedulable: true } } }, mergePatch);
    const pods = (await victimPods(ctx, r.namespace)).filter((x) => x.spec?.nodeName === r.node);
    for (const pod of pods) {
      const name = pod.metadata!.name!;
      try {
        await ctx.kube.core.createNamespacedPodEviction({ name, namespace: r.namespace, body: { metadata: { name, namespace: r.namespace } } });
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    }
    ctx.log(`drained ${r.node}: cordoned, evicted ${pods.map((x) => x.metadata?.name).join(', ') || 'nothing'}`);
  },

  async revert(ctx, r) {
    const na = needNodes(ctx, 'registry-mirror-outage');
    for (const f of r.files) ctx.log(await restoreNodeFile(na, f));
    if (!r.wasUnschedulable) {
      try {
        await ctx.kube.core.patchNode({ name: r.node, body: { spec: { unschedulable: false } } }, mergePatch);
        ctx.log(`uncordoned ${r.node}`);
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    }
  },

  describe(r) {
    return `hosts.toml restored on ${r.files.map((f) => f.node).join(', ')}${r.wasUnschedulable ? '' : `; ${r.node} uncordoned`}`;
  },
};
