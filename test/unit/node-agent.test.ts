// Node access through agent pods, against FAKE API clients and providers (no cluster): the pod's shape, which
// scenarios get the agents, how the mode is chosen from the flags, and what exec says when no agent can be reached.
import { describe, expect, test } from '@jest/globals';
import { join } from 'node:path';
import { execa } from 'execa';
import { AgentProcessHost } from '../../harness/cluster/process-host.js';
import { AgentNodeProvider } from '../../harness/cluster/agent-provider.js';
import { agentLabelValue, agentPodManifest, agentPodProblem, onNode } from '../../harness/cluster/node-agent.js';
import { ExistingProvider } from '../../harness/cluster/existing.js';
import { UserError } from '../../harness/core/errors.js';
import { chooseNodeAccess, providerForJournal, withNodeAgents } from '../../harness/engine/node-agents.js';
import { builtinRegistries } from '../../harness/engine/registries.js';
import { resolveScenarios } from '../../harness/engine/scenario-loader.js';
import { nodeAgent } from '../../harness/faults/node-agent.js';
import { FakeNodeProvider } from './helpers/fake-node.js';
import { tempDir } from './helpers/tmp.js';

const ref = { provider: 'existing' as const, name: 'staging', context: 'staging', kubeconfigPath: '/dev/null', createdByFaultline: false };

describe('the agent pod', () => {
  const pod = agentPodManifest({ name: 'agent-1', namespace: 'faultline-agent-abc', node: 'cp-1', image: 'img:1', runId: 'r1' });
  test('privileged, in the host PID and network namespaces, the host root at /host, pinned, every taint tolerated, no token', () => {
    const c = pod.spec!.containers[0]!;
    expect(pod.spec).toMatchObject({ nodeName: 'cp-1', hostPID: true, hostNetwork: true, automountServiceAccountToken: false, tolerations: [{ operator: 'Exists' }] });
    expect(c.securityContext?.privileged).toBe(true);
    expect(c.volumeMounts).toEqual([{ name: 'host', mountPath: '/host' }]);
    expect(pod.spec!.volumes).toEqual([{ name: 'host', hostPath: { path: '/' } }]);
    expect(pod.metadata!.labels).toMatchObject({ 'app.kubernetes.io/managed-by': 'faultline', 'faultline/node-agent': 'cp-1' });
  });

  test('a node name that is no label value still labels its agent', () => {
    const long = `${'n'.repeat(70)}.example.com`;
    expect(agentLabelValue(long)).toHaveLength(63);
    expect(agentLabelValue('node_1:a')).toBe('node_1-a');
    expect(agentLabelValue('x.')).toBe('x');
  });

  test('a command on the node enters the namespaces of its PID 1', () => {
    expect(onNode(['sh', '-c', 'true'])).toEqual(['nsenter', '--target', '1', '--mount', '--uts', '--ipc', '--net', '--pid', '--', 'sh', '-c', 'true']);
  });

  test('why an agent is not running: the pull error, not "Pending"', () => {
    expect(agentPodProblem({ status: { phase: 'Pending', containerStatuses: [{ name: 'agent', image: 'x', imageID: '', ready: false, restartCount: 0, state: { waiting: { reason: 'ErrImagePull', message: 'not found' } } }] } })).toBe('ErrImagePull: not found');
    expect(agentPodProblem({ status: { phase: 'Pending', containerStatuses: [{ name: 'agent', image: 'x', imageID: '', ready: false, restartCount: 0, state: { waiting: { reason: 'ContainerCreating' } } }] } })).toBeUndefined();
  });
});

describe('choosing node access', () => {
  test('auto keeps the provider, unless an agent image is given', () => {
    expect(chooseNodeAccess('auto', 'kind', undefined)).toEqual({ agent: false });
    expect(chooseNodeAccess('auto', 'existing', undefined)).toEqual({ agent: false });
    expect(chooseNodeAccess('auto', 'existing', 'reg/agent:1')).toEqual({ agent: true, image: 'reg/agent:1' });
  });
  test('agent on kind uses the forged image; on an existing cluster it needs one', () => {
    expect(chooseNodeAccess('agent', 'kind', undefined)).toEqual({ agent: true, image: expect.stringMatching(/^docker\.io\/faultline\/node-agent:/) });
    expect(() => chooseNodeAccess('agent', 'existing', undefined)).toThrow(UserError);
    expect(() => chooseNodeAccess('agent', 'existing', undefined)).toThrow(/needs --agent-image/);
  });
  test('provider access does not exist on an existing cluster, and takes no agent image', () => {
    expect(() => chooseNodeAccess('provider', 'existing', undefined)).toThrow(/no node access of its own/);
    expect(() => chooseNodeAccess('provider', 'kind', 'x')).toThrow(/--agent-image is for --node-access agent/);
  });
});

describe('the agent pod with a channel', () => {
  const pod = agentPodManifest({ name: 'agent-1', namespace: 'faultline-agent-abc', node: 'cp-1', image: 'img:1', runId: 'r1', channelPort: 24_001 });
  const c = pod.spec!.containers[0]!;
  test('serves the port with socat, client certificates checked against the set-up CA the Secret holds', () => {
    expect(c.command!.join(' ')).toMatch(/exec socat OPENSSL-LISTEN:24001,reuseaddr,fork,cert=\/run\/faultline-agent\/server\.pem,cafile=\/run\/faultline-agent\/ca\.pem,verify=1 EXEC:\/tmp\/faultline-serve$/);
    expect(c.env).toEqual([{ name: 'FAULTLINE_AGENT_SERVE', value: expect.stringMatching(/^#!\/bin\/sh\n/) }]);
    expect(c.volumeMounts).toContainEqual({ name: 'channel', mountPath: '/run/faultline-agent', readOnly: true });
    expect(pod.spec!.volumes).toContainEqual({ name: 'channel', secret: { secretName: 'agent-channel', defaultMode: 0o400 } });
    expect(pod.spec!.hostNetwork).toBe(true);
  });
});

describe('which scenarios get agents', () => {
  const registries = builtinRegistries();
  const scenarios = resolveScenarios(['etcd-liveness-kill', 'statefulset-env-conflict', 'stale-certs-control-plane'], false, registries);
  test('those that need node exec, as their first set-up; the others are unchanged', () => {
    const out = withNodeAgents(scenarios, { agent: true, image: 'img:1' });
    const byId = new Map(out.map((s) => [s.id, s]));
    expect(byId.get('etcd-liveness-kill')!.victim.setup[0]).toEqual({ type: 'node-agent', params: { image: 'img:1' } });
    expect(byId.get('statefulset-env-conflict')).toBe(scenarios.find((s) => s.id === 'statefulset-env-conflict'));
    expect(withNodeAgents(scenarios, { agent: false })).toBe(scenarios);
  });
  test('one whose fault takes the API server down (nodeExecWithoutApi) gets the channel that does not need it', () => {
    const out = withNodeAgents(scenarios, { agent: true, image: 'img:1' });
    expect(out.find((s) => s.id === 'stale-certs-control-plane')!.victim.setup[0]).toEqual({ type: 'node-agent', params: { image: 'img:1', channel: true } });
  });
  test('the set-up is a registered fault whose params the scenario file schema accepts', () => {
    expect(registries.faults.get('node-agent')).toBe(nodeAgent);
    expect(nodeAgent.paramsSchema.safeParse({ image: 'x' }).success).toBe(true);
    expect(nodeAgent.paramsSchema.safeParse({ image: '' }).success).toBe(false);
  });
});

/** FAKE API: listPodForAllNamespaces answers from a script of outcomes. */
function fakeKube(answers: Array<'down' | 'none'>) {
  let asked = 0;
  const core = {
    async listPodForAllNamespaces() {
      asked++;
      const a = answers.shift() ?? 'none';
      if (a === 'down') throw new Error('connect ECONNREFUSED 127.0.0.1:6443');
      return { items: [] };
    },
  };
  return { kube: { core } as any, asked: () => asked };
}

describe('exec through an agent', () => {
  test("capabilities: node exec and host PIDs (the node's own), kubeadm as found", () => {
    const p = new AgentNodeProvider(new ExistingProvider(), { connect: () => ({}) as any, kubeadm: true });
    expect(p.capabilities()).toMatchObject({ nodeExec: true, hostPid: true, kubeadm: true, create: false });
  });

  test('no agent on the node: says so at once', async () => {
    const f = fakeKube(['none']);
    const p = new AgentNodeProvider(new ExistingProvider(), { connect: () => f.kube, kubeadm: false });
    await expect(p.exec(ref, 'cp-1', ['true'])).rejects.toThrow(/no faultline agent pod is running on node cp-1/);
  });

  test('the API server down: retried, then named', async () => {
    const f = fakeKube(['down', 'down', 'down', 'down']);
    const p = new AgentNodeProvider(new ExistingProvider(), { connect: () => f.kube, kubeadm: false, retryMs: 2_500 });
    await expect(p.exec(ref, 'cp-1', ['true'])).rejects.toThrow(/the API server did not answer for 3 s, so its agent pod cannot be reached \(connect ECONNREFUSED/);
    expect(f.asked()).toBeGreaterThanOrEqual(2);
  }, 20_000);

  test('recover reaches nodes through agents only for a journal that holds them', () => {
    const base = new ExistingProvider();
    const e = (faultType: string) => ({ id: faultType, faultType, params: {}, record: {}, state: 'applied' as const, at: '' });
    expect(providerForJournal(base, [e('node-agent'), e('etcd-liveness-probe')], () => ({}) as any)).toBeInstanceOf(AgentNodeProvider);
    expect(providerForJournal(base, [e('etcd-liveness-probe')], () => ({}) as any)).toBe(base);
  });
});

describe('the node-agent set-up', () => {
  test('plans a pod per node in a namespace of its own, and creates them privileged-admitted', async () => {
    const dir = tempDir();
    const provider = new FakeNodeProvider(dir.path, ['cp', 'w1']);
    const made: Array<{ kind: string; body: any }> = [];
    const core = {
      async createNamespace({ body }: any) {
        made.push({ kind: 'Namespace', body });
      },
      async createNamespacedPod({ body }: any) {
        made.push({ kind: 'Pod', body });
      },
      async listNamespacedPod() {
        return { items: made.filter((m) => m.kind === 'Pod').map((m) => ({ metadata: m.body.metadata, status: { containerStatuses: [{ ready: true }] } })) };
      },
    };
    const ctx = { runId: 'r1', cluster: ref, provider, kube: { core }, log: () => {} } as any;
    const r = await nodeAgent.plan(ctx, { image: 'img:1', channel: false });
    expect(r.pods).toEqual([{ node: 'cp', name: 'agent-1' }, { node: 'w1', name: 'agent-2' }]);
    expect(r.namespace).toMatch(/^faultline-agent-[0-9a-f]{6}$/);
    await nodeAgent.apply(ctx, { image: 'img:1', channel: false }, r);
    expect(made[0]!.body.metadata.labels).toMatchObject({ 'app.kubernetes.io/managed-by': 'faultline', 'pod-security.kubernetes.io/enforce': 'privileged' });
    expect(made[0]!.body.metadata.annotations).toEqual({ 'faultline/run-id': 'r1' });
    expect(made.slice(1).map((m) => m.body.spec.nodeName)).toEqual(['cp', 'w1']);
    expect(nodeAgent.describe(r)).toContain(`${r.namespace}/agent-1 (cp)`);
    expect(nodeAgent.made!(r)).toBe(`node agents (img:1, no RBAC of their own): ${r.namespace}/agent-1 on cp, ${r.namespace}/agent-2 on w1`);
    dir.cleanup();
  });
});

describe("the agent's view of a node's processes (its shell scripts run here by sh: a FAKE agent, no pod)", () => {
  const sh = async (script: string, input?: string) => {
    const r = await execa('sh', ['-c', script], { reject: false, stripFinalNewline: false, ...(input !== undefined ? { input } : {}) });
    return { stdout: r.stdout, stderr: r.stderr, exitCode: r.exitCode ?? -1 };
  };
  const host = new AgentProcessHost('node cp (agent)', sh);

  test('reads, writes, tests and removes files whatever their names hold', async () => {
    const dir = tempDir();
    const path = join(dir.path, "it's a file");
    expect(await host.read(path)).toBeUndefined();
    await host.write(path, 'a b\n$HOME\n');
    expect(await host.read(path)).toBe('a b\n$HOME\n');
    expect(await host.exists(path)).toBe(true);
    expect(await host.realpath(path)).toBe(path);
    await host.remove(path);
    expect(await host.exists(path)).toBe(false);
    dir.cleanup();
  });

  test('starts a process that outlives the command, finds it by its command line, signals it', async () => {
    const pid = await host.spawn(['sleep', '37.5']);
    expect(await host.alive(pid)).toBe(true);
    expect((await host.cmdlines()).get(pid)).toEqual(['sleep', '37.5']);
    expect((await host.cmdlines()).get(process.pid)?.[0]).toBe(process.argv0);
    expect(await host.signal(pid, 'SIGKILL')).toBe(true);
    for (let i = 0; i < 50 && (await host.alive(pid)); i++) await new Promise((r) => setTimeout(r, 100));
    expect(await host.alive(pid)).toBe(false);
    expect(await host.signal(999_999_999, 'SIGTERM')).toBe(false);
  });
});
