// How a run reaches its nodes: through the provider (docker exec on kind's node containers), or through agent
// pods over the API (--node-access agent, --agent-image), which works on any cluster. With agents, every
// scenario that needs node access gets the node-agent set-up first, so the agents exist before its faults and
// are deleted after them.
import { AgentNodeProvider, isKubeadmCluster } from '../cluster/agent-provider.js';
import type { KubeClients } from '../cluster/kube.js';
import { forgedAgentImage } from '../cluster/node-agent.js';
import type { ClusterRef, Provider, ProviderKind } from '../cluster/types.js';
import { UserError } from '../core/errors.js';
import { nodeAgent } from '../faults/node-agent.js';
import type { JournalEntry } from './journal.js';
import type { LoadedScenario } from './scenario.js';

export const NODE_ACCESS_MODES = ['auto', 'provider', 'agent'] as const;
export type NodeAccessMode = (typeof NODE_ACCESS_MODES)[number];

export interface NodeAccessChoice {
  agent: boolean;
  image?: string;
}

/** auto: the provider's own access where it has one (kind, k3d), agents on an existing cluster given --agent-image
 *  (an existing cluster pulls its own images, so faultline cannot pick one for it). */
export function chooseNodeAccess(mode: NodeAccessMode, provider: ProviderKind, agentImage: string | undefined): NodeAccessChoice {
  if (mode === 'provider') {
    if (agentImage) throw new UserError('--agent-image is for --node-access agent', 'drop --agent-image, or pass --node-access agent');
    if (provider === 'existing') throw new UserError('an existing cluster has no node access of its own', 'pass --node-access agent --agent-image REF');
    return { agent: false };
  }
  if (mode === 'auto' && !agentImage) return { agent: false };
  if (provider === 'existing' && !agentImage) {
    throw new UserError('--node-access agent on an existing cluster needs --agent-image', 'pass an image your nodes can pull that has nsenter, strace and sh (see README: node access)');
  }
  return { agent: true, image: agentImage ?? forgedAgentImage() };
}

/** The provider a run uses: the given one, or one reaching nodes through agents. */
export async function withNodeAccess(base: Provider, choice: NodeAccessChoice, connect: (ref: ClusterRef) => KubeClients, ref?: ClusterRef): Promise<Provider> {
  if (!choice.agent) return base;
  const kubeadm = ref ? await isKubeadmCluster(connect(ref)) : false;
  return new AgentNodeProvider(base, { connect, kubeadm });
}

/** Every scenario that needs node access gets the agents as its first set-up; one whose fault takes the API
 *  server down (nodeExecWithoutApi) gets their channel that does not need it. */
export function withNodeAgents(scenarios: LoadedScenario[], choice: NodeAccessChoice): LoadedScenario[] {
  if (!choice.agent) return scenarios;
  return scenarios.map((sc) => {
    if (!sc.cluster.needs.includes('nodeExec')) return sc;
    const params = { image: choice.image!, ...(sc.cluster.needs.includes('nodeExecWithoutApi') ? { channel: true } : {}) };
    return { ...sc, victim: { ...sc.victim, setup: [{ type: nodeAgent.type, params }, ...sc.victim.setup] } };
  });
}

/** For `faultline recover`: a journal that holds node agents reaches its nodes through them. */
export function providerForJournal(base: Provider, entries: JournalEntry[], connect: (ref: ClusterRef) => KubeClients): Provider {
  return entries.some((e) => e.faultType === nodeAgent.type) ? new AgentNodeProvider(base, { connect, kubeadm: true }) : base;
}
