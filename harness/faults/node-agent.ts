// The node agents of a run: one privileged pod per node (cluster/node-agent.ts) in a namespace of their own, set
// up before the scenario's faults and reverted after them, so node-level faults reach nodes through the API. A
// change to the cluster like any other: journaled before it exists, deleted on every exit path and by
// `faultline recover`. The namespace allows privileged pods whatever the cluster's Pod Security default is.
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { isConflict } from '../cluster/kube.js';
import { agentPodManifest, agentPodProblem } from '../cluster/node-agent.js';
import { sleep } from '../core/poll.js';
import type { Fault } from './types.js';
import { runNamespaceBody, victimNamespace } from './victim-namespace.js';

const Params = z.object({ image: z.string().min(1) }).strict();
type Params = z.infer<typeof Params>;

export interface NodeAgentRecord {
  namespace: string;
  runId: string;
  image: string;
  pods: Array<{ node: string; name: string }>;
}

/** How long apply waits for every agent to run (the image may have to be pulled). */
const RUNNING_WITHIN_MS = 120_000;

export const nodeAgent: Fault<Params, NodeAgentRecord> = {
  type: 'node-agent',
  description: "faultline's agent pod on every node (privileged, host PID and network, host root mounted): node access through the API",
  paramsSchema: Params,

  async plan(ctx, p) {
    const nodes = await ctx.provider.nodes(ctx.cluster);
    if (nodes.length === 0) throw new Error('the cluster has no nodes');
    const namespace = `faultline-agent-${randomBytes(3).toString('hex')}`;
    return { namespace, runId: ctx.runId, image: p.image, pods: nodes.map((n, i) => ({ node: n.name, name: `agent-${i + 1}` })) };
  },

  async apply(ctx, _p, r) {
    // a cluster faultline made gets the image from this machine; an existing cluster pulls it
    await ctx.provider.loadImages(ctx.cluster, [r.image]);
    const body = runNamespaceBody(r.namespace, r.runId, { 'pod-security.kubernetes.io/enforce': 'privileged' });
    await ignoreConflict(ctx.kube.core.createNamespace({ body }));
    for (const pod of r.pods) {
      const body = agentPodManifest({ ...pod, namespace: r.namespace, image: r.image, runId: r.runId });
      await ignoreConflict(ctx.kube.core.createNamespacedPod({ namespace: r.namespace, body }));
    }
    await waitRunning(ctx, r);
    ctx.log(`node agents running (${r.image}): ${r.pods.map((p) => `${r.namespace}/${p.name} on ${p.node}`).join(', ')}`);
  },

  async revert(ctx, r) {
    await victimNamespace.revert(ctx, { namespace: r.namespace, runId: r.runId });
  },

  made(r) {
    return `node agents (${r.image}, no RBAC of their own): ${r.pods.map((p) => `${r.namespace}/${p.name} on ${p.node}`).join(', ')}`;
  },

  describe(r) {
    return `node agents ${r.pods.map((p) => `${r.namespace}/${p.name} (${p.node})`).join(', ')} and their namespace deleted`;
  },
};

async function ignoreConflict(p: Promise<unknown>): Promise<void> {
  try {
    await p;
  } catch (err) {
    if (!isConflict(err)) throw err;
  }
}

async function waitRunning(ctx: Parameters<Fault['apply']>[0], r: NodeAgentRecord): Promise<void> {
  const until = Date.now() + RUNNING_WITHIN_MS;
  for (;;) {
    const list = await ctx.kube.core.listNamespacedPod({ namespace: r.namespace });
    const notReady = r.pods.filter((p) => !list.items.find((x) => x.metadata?.name === p.name)?.status?.containerStatuses?.[0]?.ready);
    if (notReady.length === 0) return;
    if (Date.now() > until) {
      const why = notReady.map((p) => {
        const pod = list.items.find((x) => x.metadata?.name === p.name);
        return `${p.name} on ${p.node}: ${(pod && agentPodProblem(pod)) ?? pod?.status?.phase ?? 'missing'}`;
      });
      throw new Error(`node agents not running after ${RUNNING_WITHIN_MS / 1000} s (${why.join('; ')}); the image ${r.image} must be pullable by every node (--agent-image)`);
    }
    // one pod list a second: an agent whose image is on the node runs within a few seconds
    await sleep(1_000, ctx.signal);
  }
}
