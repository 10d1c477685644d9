// The node agents of a run: one privileged pod per node (cluster/node-agent.ts) in a namespace of their own, set
// up before the scenario's faults and reverted after them, so node-level faults reach nodes through the API. A
// change to the cluster like any other: journaled before it exists, deleted on every exit path and by
// `faultline recover`. The namespace allows privileged pods whatever the cluster's Pod Security default is.
// `channel: true` (a scenario that needs nodeExecWithoutApi) also opens each agent's mutual-TLS channel on a node
// port (cluster/agent-channel.ts), checked from here before the set-up counts as applied.
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { isConflict } from '../cluster/kube.js';
import { CHANNEL_SECRET, execOverChannel, removeChannel, saveChannel, type AgentChannel } from '../cluster/agent-channel.js';
import { issueCertificate } from '../certs/issue.js';
import { agentPodManifest, agentPodProblem } from '../cluster/node-agent.js';
import { MANAGED_BY } from '../core/labels.js';
import { errorMessage } from '../core/errors.js';
import { sleep } from '../core/poll.js';
import type { Fault } from './types.js';
import { runNamespaceBody, victimNamespace } from './victim-namespace.js';

const Params = z.object({ image: z.string().min(1), channel: z.boolean().default(false) }).strict();
type Params = z.infer<typeof Params>;

export interface NodeAgentRecord {
  namespace: string;
  runId: string;
  image: string;
  pods: Array<{ node: string; name: string }>;
  /** the channel that does not need the API server: the node port, each node's address and roles (no key material) */
  channel?: { port: number; addresses: Record<string, string>; roles: Record<string, string[]> };
}

/** Channel ports are picked from here per set-up: above the usual NodePort range, below the ephemeral one. */
const CHANNEL_PORTS = { from: 20_000, count: 10_000 };
/** How long each agent's channel may take to answer after its pod runs (socat starts in well under a second). */
const CHANNEL_WITHIN_MS = 30_000;

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
    const pods = nodes.map((n, i) => ({ node: n.name, name: `agent-${i + 1}` }));
    return { namespace, runId: ctx.runId, image: p.image, pods, ...(p.channel ? { channel: await channelPlan(ctx, nodes) } : {}) };
  },

  async apply(ctx, _p, r) {
    // a cluster faultline made gets the image from this machine; an existing cluster pulls it
    await ctx.provider.loadImages(ctx.cluster, [r.image]);
    const body = runNamespaceBody(r.namespace, r.runId, { 'pod-security.kubernetes.io/enforce': 'privileged' });
    await ignoreConflict(ctx.kube.core.createNamespace({ body }));
    const channel = r.channel ? await openChannel(ctx, r, r.channel) : undefined;
    for (const pod of r.pods) {
      const body = agentPodManifest({ ...pod, namespace: r.namespace, image: r.image, runId: r.runId, ...(r.channel ? { channelPort: r.channel.port } : {}) });
      await ignoreConflict(ctx.kube.core.createNamespacedPod({ namespace: r.namespace, body }));
    }
    await waitRunning(ctx, r);
    if (channel) await waitChannel(ctx, r, channel);
    ctx.log(`node agents running (${r.image}): ${r.pods.map((p) => `${r.namespace}/${p.name} on ${p.node}`).join(', ')}${channelNote(r)}`);
  },

  async revert(ctx, r) {
    await victimNamespace.revert(ctx, { namespace: r.namespace, runId: r.runId });
    // the client's key goes once no agent can answer it
    if (r.channel) removeChannel(r.namespace);
  },

  made(r) {
    return `node agents (${r.image}, no RBAC of their own): ${r.pods.map((p) => `${r.namespace}/${p.name} on ${p.node}`).join(', ')}${channelNote(r)}`;
  },

  describe(r) {
    return `node agents ${r.pods.map((p) => `${r.namespace}/${p.name} (${p.node})`).join(', ')} and their namespace deleted`;
  },
};

/** A CA for one set-up, the agents' server certificate for every node address, and faultline's client
 *  certificate; valid for a day (past that, `recover` goes through the API's exec: findChannel skips it). */
export async function issueChannel(o: Omit<AgentChannel, 'notAfter' | 'ca' | 'cert' | 'key'>): Promise<{ channel: AgentChannel; serverPem: string }> {
  const notBefore = new Date(Date.now() - 60_000);
  const notAfter = new Date(Date.now() + 86_400_000);
  const ca = await issueCertificate({ commonName: `faultline agent channel ${o.namespace}`, usage: 'ca', notBefore, notAfter, keyType: 'ecdsa-p256' });
  const issuer = { certPem: ca.certPem, keyPem: ca.keyPem };
  const server = await issueCertificate({ commonName: 'faultline-agent', usage: 'server', ipAddresses: Object.values(o.addresses), notBefore, notAfter, issuer, keyType: 'ecdsa-p256' });
  const client = await issueCertificate({ commonName: 'faultline', usage: 'client', notBefore, notAfter, issuer, keyType: 'ecdsa-p256' });
  return { channel: { ...o, notAfter: notAfter.toISOString(), ca: ca.certPem, cert: client.certPem, key: client.keyPem }, serverPem: server.certPem + server.keyPem };
}

function channelNote(r: NodeAgentRecord): string {
  return r.channel ? `; channel without the API: mutual TLS on port ${r.channel.port} of ${Object.values(r.channel.addresses).join(', ')}` : '';
}

async function channelPlan(ctx: Parameters<Fault['plan']>[0], nodes: Array<{ name: string; roles: string[] }>): Promise<NonNullable<NodeAgentRecord['channel']>> {
  const addresses: Record<string, string> = {};
  for (const { name } of nodes) {
    const n = await ctx.kube.core.readNode({ name });
    const ip = n.status?.addresses?.find((a) => a.type === 'InternalIP')?.address;
    if (!ip) throw new Error(`node ${name} has no InternalIP, so faultline has no address to reach its agent at without the API`);
    addresses[name] = ip;
  }
  const roles = Object.fromEntries(nodes.map((n) => [n.name, n.roles]));
  return { port: CHANNEL_PORTS.from + randomBytes(2).readUInt16BE() % CHANNEL_PORTS.count, addresses, roles };
}

/** The set-up's certificates: faultline's half in the state dir before the agents' half is in the cluster. */
async function openChannel(ctx: Parameters<Fault['apply']>[0], r: NodeAgentRecord, plan: NonNullable<NodeAgentRecord['channel']>): Promise<AgentChannel> {
  // the roles were read with the node list in plan: no second list
  const { channel, serverPem } = await issueChannel({ cluster: ctx.cluster.name, namespace: r.namespace, ...plan });
  saveChannel(channel);
  const body = {
    metadata: { name: CHANNEL_SECRET, namespace: r.namespace, labels: { [MANAGED_BY.key]: MANAGED_BY.value } },
    type: 'Opaque',
    stringData: { 'ca.pem': channel.ca, 'server.pem': serverPem },
  };
  await ignoreConflict(ctx.kube.core.createNamespacedSecret({ namespace: r.namespace, body }));
  return channel;
}

/** Every agent answers over its channel, or the set-up fails naming the address this machine could not reach. */
async function waitChannel(ctx: Parameters<Fault['apply']>[0], r: NodeAgentRecord, channel: AgentChannel): Promise<void> {
  for (const { node } of r.pods) {
    const until = Date.now() + CHANNEL_WITHIN_MS;
    for (;;) {
      try {
        const res = await execOverChannel(channel, node, 'true', { timeoutMs: 10_000 });
        if (res.exitCode === 0) break;
        throw new Error(`exited ${res.exitCode}: ${res.stderr.trim()}`);
      } catch (err) {
        if (Date.now() > until) {
          throw new Error(`the agent on ${node} does not answer at ${channel.addresses[node]}:${channel.port} (${errorMessage(err)}): a scenario that takes the API server down needs this machine to reach its nodes' addresses`);
        }
      }
      // socat listens within a second of the pod running: a try every second
      await sleep(1_000, ctx.signal);
    }
  }
}

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
