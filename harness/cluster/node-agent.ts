// faultline's node agent: a short-lived privileged pod pinned to one node, in the host's PID and network
// namespaces with the host's root mounted, through which node-level faults and detectors reach a node with the
// API alone (a cluster whose nodes are not containers on this machine). A command runs on the node by entering
// PID 1's namespaces (nsenter), so it sees the node's own files and tools.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { V1Pod } from '@kubernetes/client-node';
import { MANAGED_BY } from '../core/labels.js';
import { repoRoot } from '../core/paths.js';
import { CHANNEL_MOUNT, CHANNEL_SECRET, SERVE_SCRIPT, channelCommand } from './agent-channel.js';
import type { KubeClients } from './kube.js';
import { parseEnvFile } from './node-image.js';

/** Marks an agent pod, and names the node it serves, so any faultline process (recover too) finds it by label. */
export const AGENT_NODE_LABEL = 'faultline/node-agent';
export const AGENT_CONTAINER = 'agent';

/** The forged agent image (images/dockerfiles/node-agent.Dockerfile), preloaded into faultline's kind node image. */
export function forgedAgentImage(versionsFile = join(repoRoot(), 'images', 'versions.env')): string {
  const suite = existsSync(versionsFile) ? parseEnvFile(readFileSync(versionsFile, 'utf8')).DEBIAN_SUITE : undefined;
  return `docker.io/faultline/node-agent:${suite ?? 'bookworm'}`;
}

/** Label values are at most 63 characters of [A-Za-z0-9._-]; node names may be longer (FQDNs). */
export function agentLabelValue(node: string): string {
  const v = node.replace(/[^A-Za-z0-9._-]/g, '-').slice(0, 63).replace(/[^A-Za-z0-9]+$/, '');
  return v || 'node';
}

export function agentPodManifest(spec: { name: string; namespace: string; node: string; image: string; runId: string; channelPort?: number }): V1Pod {
  const channel = spec.channelPort !== undefined;
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: spec.name,
      namespace: spec.namespace,
      labels: { [MANAGED_BY.key]: MANAGED_BY.value, [AGENT_NODE_LABEL]: agentLabelValue(spec.node) },
      annotations: { 'faultline/run-id': spec.runId },
    },
    spec: {
      // pinned by name: no scheduler needed (it may be the component a fault took down)
      nodeName: spec.node,
      hostPID: true,
      hostNetwork: true,
      dnsPolicy: 'ClusterFirstWithHostNet',
      // it acts on the node, not the API: no token in the pod
      automountServiceAccountToken: false,
      enableServiceLinks: false,
      restartPolicy: 'Always',
      terminationGracePeriodSeconds: 1,
      tolerations: [{ operator: 'Exists' }],
      containers: [
        {
          name: AGENT_CONTAINER,
          image: spec.image,
          imagePullPolicy: 'IfNotPresent',
          command: channel ? channelCommand(spec.channelPort!) : ['sleep', 'infinity'],
          ...(channel ? { env: [{ name: 'FAULTLINE_AGENT_SERVE', value: SERVE_SCRIPT }] } : {}),
          securityContext: { privileged: true },
          resources: { requests: { cpu: '10m', memory: '16Mi' } },
          volumeMounts: [{ name: 'host', mountPath: '/host' }, ...(channel ? [{ name: 'channel', mountPath: CHANNEL_MOUNT, readOnly: true }] : [])],
        },
      ],
      volumes: [{ name: 'host', hostPath: { path: '/' } }, ...(channel ? [{ name: 'channel', secret: { secretName: CHANNEL_SECRET, defaultMode: 0o400 } }] : [])],
    },
  };
}

export interface AgentPod {
  namespace: string;
  name: string;
}

/** The running agent pod on node, if there is one. */
export async function findAgentPod(kube: KubeClients, node: string): Promise<AgentPod | undefined> {
  const list = await kube.core.listPodForAllNamespaces({
    labelSelector: `${MANAGED_BY.key}=${MANAGED_BY.value},${AGENT_NODE_LABEL}=${agentLabelValue(node)}`,
    fieldSelector: `spec.nodeName=${node}`,
  });
  const running = list.items.find((p) => p.status?.phase === 'Running' && !p.metadata?.deletionTimestamp && p.status.containerStatuses?.[0]?.ready);
  return running ? { namespace: running.metadata!.namespace!, name: running.metadata!.name! } : undefined;
}

/** Why an agent pod is not running yet, from its status (a pull error names the image), or undefined. */
export function agentPodProblem(pod: V1Pod): string | undefined {
  const waiting = pod.status?.containerStatuses?.[0]?.state?.waiting;
  if (waiting && waiting.reason !== 'ContainerCreating') return `${waiting.reason}${waiting.message ? `: ${waiting.message}` : ''}`;
  const unsched = pod.status?.conditions?.find((c) => c.type === 'PodScheduled' && c.status === 'False');
  if (unsched) return `${unsched.reason ?? 'not scheduled'}${unsched.message ? `: ${unsched.message}` : ''}`;
  if (pod.status?.phase === 'Failed') return `failed: ${pod.status.reason ?? pod.status.message ?? 'no reason given'}`;
  return undefined;
}

/** The argv that runs argv on the node itself: in the namespaces of the node's PID 1. */
export function onNode(argv: string[]): string[] {
  return ['nsenter', '--target', '1', '--mount', '--uts', '--ipc', '--net', '--pid', '--', ...argv];
}
