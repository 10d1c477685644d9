// Node access through the API: a provider whose exec runs on a node through faultline's agent pod there
// (node-agent.ts), and everything else as the provider it wraps. The agent pods exist only while a run's
// node-agent set-up holds them (journaled like any fault); exec finds them by label, so `faultline recover` in
// another process reaches the same nodes the same way. A set-up that opened a channel without the API
// (agent-channel.ts; scenarios whose fault takes the API server down) is used instead of the API's exec.
import { ChannelNotOpenError, execOverChannel, findChannel } from './agent-channel.js';
import type { KubeClients } from './kube.js';
import { AGENT_CONTAINER, findAgentPod, onNode } from './node-agent.js';
import { ExecTimedOutError, execInPod } from './pod-exec.js';
import type { Capabilities, ClusterRef, ExecResult, Provider } from './types.js';
import { shQuote } from './node-access.js';
import { AgentProcessHost, type ProcessHost } from './process-host.js';
import { errorMessage } from '../core/errors.js';
import { sleep } from '../core/poll.js';

/** How long exec keeps trying while the API server does not answer: a control-plane fault restarts it, and etcd
 *  killed by a wrong liveness probe keeps it away for minutes at a time. */
const API_RETRY_MS = 300_000;

export interface AgentAccessOptions {
  /** API clients of the cluster the agents run on */
  connect(ref: ClusterRef): KubeClients;
  /** whether the cluster is kubeadm's (kube-system holds kubeadm-config): found before the run */
  kubeadm: boolean;
  retryMs?: number;
}

export class AgentNodeProvider implements Provider {
  constructor(
    readonly base: Provider,
    private readonly opts: AgentAccessOptions,
  ) {}

  get kind() {
    return this.base.kind;
  }

  capabilities(): Capabilities {
    return { ...this.base.capabilities(), nodeExec: true, nodeExecWithoutApi: true, hostPid: true, kubeadm: this.base.capabilities().kubeadm || this.opts.kubeadm };
  }

  preflight() {
    return this.base.preflight();
  }
  create(spec: Parameters<Provider['create']>[0]) {
    return this.base.create(spec);
  }
  delete(name: string) {
    return this.base.delete(name);
  }
  list() {
    return this.base.list();
  }
  kubeconfig(ref: ClusterRef) {
    return this.base.kubeconfig(ref);
  }
  /** while a set-up holds a channel, its node list: the API server may be the component a fault took down */
  nodes(ref: ClusterRef) {
    const channel = findChannel(ref.name);
    if (channel) return Promise.resolve(Object.keys(channel.addresses).map((name) => ({ name, roles: channel.roles[name] ?? [] })));
    return this.base.nodes(ref);
  }
  loadImages(ref: ClusterRef, images: string[]) {
    return this.base.loadImages(ref, images);
  }

  /** argv on the node itself, in the namespaces of its PID 1 */
  exec(ref: ClusterRef, node: string, argv: string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<ExecResult> {
    return this.inAgent(ref, node, onNode(argv), opts);
  }

  /** argv in the agent's own container (its tools; the node's processes through the host PID namespace) */
  async inAgent(ref: ClusterRef, node: string, argv: string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<ExecResult> {
    const retryMs = this.opts.retryMs ?? API_RETRY_MS;
    const until = Date.now() + retryMs;
    const channel = findChannel(ref.name, node);
    if (channel) {
      for (;;) {
        try {
          return await execOverChannel(channel, node, argv.map(shQuote).join(' '), opts);
        } catch (err) {
          // only a connection that never opened is tried again: the command did not start
          if (!(err instanceof ChannelNotOpenError) || Date.now() > until) throw err;
          // an agent restarted by its kubelet listens again within seconds: a try every 2 s
          await sleep(2_000);
        }
      }
    }
    const kube = this.opts.connect(ref);
    for (;;) {
      let pod;
      try {
        pod = await findAgentPod(kube, node);
      } catch (err) {
        if (Date.now() > until) throw new Error(`node ${node}: the API server did not answer for ${Math.round(retryMs / 1000)} s, so its agent pod cannot be reached (${errorMessage(err)})`);
        // an API server away (a control-plane fault) is back within tens of seconds: a try every 2 s
        await sleep(2_000);
        continue;
      }
      if (!pod) throw new Error(`no faultline agent pod is running on node ${node}: node access through the API exists only while a run's node-agent set-up holds it`);
      try {
        return await execInPod(kube.kc, { namespace: pod.namespace, pod: pod.name, container: AGENT_CONTAINER }, argv, opts);
      } catch (err) {
        // a refused, failed or unopened connection is retried; a command that ran too long is not (it may have acted)
        if (err instanceof ExecTimedOutError || Date.now() > until) throw err;
        // an API server away (a control-plane fault) is back within tens of seconds: a try every 2 s
        await sleep(2_000);
      }
    }
  }

  /** the oldest process of that name in the node's PID namespace (the kernel keeps 15 characters of a name) */
  async hostPid(ref: ClusterRef, node: string, processName: string): Promise<number | undefined> {
    const want = shQuote(processName.slice(0, 15));
    const r = await this.inAgent(ref, node, ['sh', '-c', `for d in /proc/[0-9]*; do [ "$(cat "$d/comm" 2>/dev/null)" = ${want} ] && echo "\${d#/proc/}"; done; true`]);
    if (r.exitCode !== 0) throw new Error(`node ${node}: listing processes through the agent exited ${r.exitCode}: ${r.stderr.trim()}`);
    const pids = r.stdout.split('\n').filter((l) => /^\d+$/.test(l)).map(Number);
    return pids.length ? Math.min(...pids) : undefined;
  }

  async processes(ref: ClusterRef, node: string): Promise<ProcessHost> {
    return new AgentProcessHost(`node ${node} (agent)`, (script, input) => this.inAgent(ref, node, ['sh', '-c', script], input !== undefined ? { input } : {}));
  }
}

/** kubeadm clusters keep their configuration in kube-system's kubeadm-config ConfigMap. */
export async function isKubeadmCluster(kube: KubeClients): Promise<boolean> {
  try {
    await kube.core.readNamespacedConfigMap({ namespace: 'kube-system', name: 'kubeadm-config' });
    return true;
  } catch {
    return false;
  }
}
