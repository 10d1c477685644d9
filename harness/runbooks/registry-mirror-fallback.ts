// Runbook for the Harbor mirror outage: the in-cluster mirror is down and containerd's fallback does not
// fall back. The incident's recovery was to drop the mirror from one node's config, bring the mirror back, then
// restore the config (with a reboot, on Talos). This runbook does the better thing: it corrects the fallback on
// every node whose fallback is broken (the endpoint's API root, checked beforehand by a probe from that node),
// which needs no restart (containerd reads hosts.toml per pull) and keeps the mirror first; then it deletes the
// pods stuck in image-pull back-off so they pull now rather than after a back-off of up to five minutes.
import { z } from 'zod';
import { hostsTomlPath, manifestUrl, parseHostsToml, parseImageRef, probeFromNode, standardRoot, withEndpointReplaced } from '../cluster/containerd-hosts.js';
import { nodeAccess } from '../cluster/node-access.js';
import { readNodeFile, writeNodeFile } from '../cluster/node-files.js';
import { isNotFound } from '../cluster/kube.js';
import { collectRegistry, type NodeRegistryView } from '../detectors/registry-mirror.js';
import type { Finding } from '../detectors/types.js';
import type { RunContext } from '../cluster/context.js';
import type { Diagnosis, Runbook, VerifyResult } from './types.js';

interface Fix {
  node: string;
  path: string;
  registry: string;
  from: string;
  to: string;
}

export const VerifyParams = z.object({ namespace: z.string().min(1), registry: z.string().min(1).default('docker.io') }).strict();

/** Broken fallbacks a node's own probe shows how to fix: an endpoint that answers 404 at its written API root
 *  and 200 at the standard one. */
export function fixesFor(registry: string, nodes: NodeRegistryView[]): Fix[] {
  const out: Fix[] = [];
  for (const n of nodes) {
    const eps = n.endpoints ?? [];
    if (eps.some((e) => e.probe?.status === 200)) continue;
    for (const e of eps.slice(1)) {
      if (e.standard?.status === 200 && !out.some((f) => f.node === n.node && f.from === e.url)) {
        out.push({ node: n.node, path: n.path, registry, from: e.url, to: standardRoot(e.url) });
      }
    }
  }
  return out;
}

export const registryMirrorFallbackRunbook: Runbook = {
  id: 'registry-mirror-fallback',
  title: 'registry mirror down, containerd fallback does not fall back',
  verifyParams: VerifyParams,

  async diagnose(ctx, finding: Finding): Promise<Diagnosis> {
    if (!nodeAccess(ctx)) throw new Error(`provider ${ctx.provider.kind} has no node access: fix /etc/containerd/certs.d/<registry>/hosts.toml on each node by hand`);
    const snap = await collectRegistry(ctx);
    const fixes = Object.entries(snap.registries).flatMap(([reg, v]) => fixesFor(reg, v.nodes));
    const stuck = snap.failures.map((f) => `${f.namespace}/${f.pod}`);
    const details = [
      ...fixes.map((f) => `${f.node} ${f.path}: fallback ${f.from} (override_path) -> ${f.to} (the node's probe of it answers HTTP 200)`),
      `pods in image-pull back-off: ${[...new Set(stuck)].join(', ') || 'none'}`,
      `finding: ${finding.summary}`,
    ];
    return {
      runbook: this.id,
      summary: fixes.length
        ? `fallback API root wrong on ${[...new Set(fixes.map((f) => f.node))].join(', ')}: ${[...new Set(fixes.map((f) => `${f.from} -> ${f.to}`))].join(', ')}`
        : 'no fallback that a corrected API root would make work; bypass or restore the mirror by hand',
      details,
      data: { fixes, pods: [...new Set(stuck)] },
    };
  },

  async remediate(ctx, d) {
    const fixes = d.data.fixes as Fix[];
    if (fixes.length === 0) return { mode: 'manual', actions: ['write a working fallback (the upstream registry\'s real API root) into each node\'s hosts.toml, or bypass the mirror on one node until it runs again'] };
    const na = nodeAccess(ctx)!;
    const actions: string[] = [];
    for (const node of [...new Set(fixes.map((f) => f.node))]) {
      const mine = fixes.filter((f) => f.node === node);
      const path = mine[0]!.path;
      const bytes = await readNodeFile(na, node, path);
      if (!bytes) throw new Error(`${path} on ${node} is gone`);
      let text = bytes.toString('utf8');
      for (const f of mine) text = withEndpointReplaced(text, f.registry, f.from, f.to);
      await writeNodeFile(na, node, path, Buffer.from(text, 'utf8'));
      actions.push(`${node} ${path}: fallback ${mine.map((f) => `${f.from} -> ${f.to}`).join(', ')} (no restart: containerd reads it per pull)`);
    }
    for (const id of d.data.pods as string[]) {
      const [namespace, name] = id.split('/') as [string, string];
      try {
        await ctx.kube.core.deleteNamespacedPod({ name, namespace });
        actions.push(`deleted ${id} (pulls now instead of after its back-off)`);
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    }
    return { mode: 'automatic', actions };
  },

  async verify(ctx: RunContext, raw): Promise<VerifyResult> {
    const p = VerifyParams.parse(raw);
    const details: string[] = [];
    let ok = true;
    const pods = (await ctx.kube.core.listNamespacedPod({ namespace: p.namespace })).items.filter((x) => !x.metadata?.deletionTimestamp);
    if (pods.length === 0) return { ok: false, details: [`no pods in ${p.namespace}`] };
    for (const pod of pods) {
      const ready = pod.status?.phase === 'Running' && (pod.status.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
      const waiting = pod.status?.containerStatuses?.find((s) => s.state?.waiting)?.state?.waiting?.reason;
      if (!ready) ok = false;
      details.push(`pod ${pod.metadata?.name} on ${pod.spec?.nodeName ?? '-'}: ${ready ? 'Running, ready' : (waiting ?? pod.status?.phase)}`);
    }
    // the intended configuration: on every node the mirror first, and a fallback that serves the images
    const na = nodeAccess(ctx);
    if (!na) return { ok, details: [...details, 'node configuration not checked (no node access)'] };
    const images = [...new Set(pods.flatMap((x) => (x.spec?.containers ?? []).map((c) => c.image!)))].filter((i) => parseImageRef(i).registry === p.registry);
    for (const n of await na.provider.nodes(na.cluster)) {
      const path = hostsTomlPath(p.registry);
      const bytes = await readNodeFile(na, n.name, path);
      if (!bytes) {
        ok = false;
        details.push(`${n.name}: no ${path}`);
        continue;
      }
      const eps = parseHostsToml(bytes.toString('utf8'), p.registry);
      const [mirror, ...fallbacks] = eps;
      const urls = images.flatMap((i) => eps.map((e) => manifestUrl(e, parseImageRef(i))));
      const probes = await probeFromNode(na, n.name, urls);
      const at = (img: number, ep: number) => probes[img * eps.length + ep]!;
      const mirrorOk = images.every((_, i) => at(i, 0).status === 200);
      const fallbackOk = images.every((_, i) => fallbacks.some((__, j) => at(i, j + 1).status === 200));
      if (!mirrorOk || !fallbackOk) ok = false;
      details.push(`${n.name}: mirror ${mirror!.url} ${mirrorOk ? 'serves' : 'does not serve'} the images, fallback ${fallbackOk ? 'works' : 'does not work'}`);
    }
    return { ok, details };
  },

  markdown() {
    return MARKDOWN;
  },
};

const MARKDOWN = `# Runbook: registry mirror down, and the fallback does not fall back

**Signature.** Pods (the workload and the mirror's own pods) sit in \`ErrImagePull\` / \`ImagePullBackOff\` after the
node running the in-cluster mirror (Harbor, a registry:2 pull-through cache) went away. The kubelet's message names
the mirror: \`dial tcp <mirror>: connect: connection refused\` (or a 404 from the fallback). The other nodes never
pulled these images, so nothing is cached. KubeContainerWaiting waits an hour; \`faultline doctor\` says it in seconds.

**Diagnose.** Group the failing pods by registry host. On a node, read \`/etc/containerd/certs.d/<registry>/hosts.toml\`:
containerd tries each \`[host."..."]\` in order, then \`server\`. For each endpoint, ask what containerd asks:
\`curl -sI <root>/<repo>/manifests/<tag>\`, where the root is the URL as written when \`override_path = true\`, and
the URL plus \`/v2\` otherwise. A fallback with \`override_path = true\` and a path the upstream does not serve
(the incident's \`https://docker.io/v2\` with Talos' \`overridePath\`, here \`http://<upstream>:5000/v2/docker.io\`)
answers 404, so containerd has nowhere left to go. Check whether the mirror's own image is served by the mirror: then
the mirror cannot come back by itself (a circular dependency).

**Remediate (better than the incident's).** Correct the fallback on each affected node: the upstream's real API
root (\`http://<upstream>:5000\`, no \`override_path\`), written atomically. containerd reads hosts.toml per pull,
so nothing restarts. Delete the pods in back-off so they pull at once. The mirror's pod comes up from the
fallback, then everything else pulls through the mirror again.

**The incident's recovery (when no fallback can work).** Remove the mirror from one node's config, get the mirror's
pods onto that node, wait for the mirror, restore the node's config. It needs the mirror to land on that node, and
on Talos a reboot to restore the config.

**Verify.** Every pod Running and ready; on every node the mirror first in hosts.toml and serving the images, and
the fallback serving them too (probe both). Make the mirror highly available, or keep its own images out of it.
`;
