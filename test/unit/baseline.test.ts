// The cluster baseline's pure parts: the node script's output parsed, the differences named, the settle loop.
// No cluster: states are written by hand (and, for the loop, a fake clock and capture; for the journal check a
// FAKE provider and a real journal in a temp state dir).
import { describe, expect, test } from '@jest/globals';
import { RunJournal } from '../../harness/engine/journal.js';
import { clusterCleanCheck } from '../../harness/engine/clean-check.js';
import { FAKE_KUBE, FakeProvider, fakeWorld } from './helpers/fakes.js';
import { useTempStateDir } from './helpers/tmp.js';
import { differences, parseClusterState, parseNodeState, provenAsBefore, settledState, type ClusterState, type NodeState } from '../../harness/engine/baseline.js';

const SHA = (c: string) => c.repeat(64);

const NODE_OUT = [
  '#files',
  `${SHA('a')}  /etc/kubernetes/manifests/kube-apiserver.yaml`,
  `${SHA('b')}  /etc/containerd/certs.d/docker.io/hosts.toml`,
  '#nat',
  '*nat',
  ':POSTROUTING ACCEPT [0:0]',
  ':FLANNEL-POSTRTG - [0:0]',
  ':KUBE-SVC-ABC - [0:0]',
  '-A POSTROUTING -j FLANNEL-POSTRTG',
  'COMMIT',
  '#proc',
  '1 (systemd) S 0 1 1 0',
  '812 (volume webhook) T 1 812 812 0',
  '900 (strace) S 1 900 900 0',
  '#faultline',
].join('\n');

function node(over: Partial<NodeState> = {}): NodeState {
  return { files: { '/etc/kubernetes/manifests/etcd.yaml': SHA('c') }, nat: [':POSTROUTING ACCEPT', '-A POSTROUTING -j FLANNEL-POSTRTG'], faultlineDir: false, stopped: [], tracers: [], ...over };
}

function state(over: Partial<ClusterState> = {}): ClusterState {
  return {
    capturedAt: '2026-12-02T00:00:00.000Z',
    namespaces: ['default', 'kube-system'],
    kubeSystem: { 'pod etcd-n1': 'manifest h1, etcd:3.6', 'pods of ReplicaSet coredns-7d': '2 pod(s), coredns:1.12', 'ConfigMap coredns': 'data 0123' },
    notReady: [],
    managed: [],
    clusterObjects: ['CustomResourceDefinition volumes.example.com'],
    nodes: { n1: node() },
    ...over,
  };
}

describe('parseNodeState', () => {
  test('splits hashes, the comparable nat lines, stopped processes (names with spaces) and tracers', () => {
    const n = parseNodeState(NODE_OUT);
    expect(n.files).toEqual({ '/etc/kubernetes/manifests/kube-apiserver.yaml': SHA('a'), '/etc/containerd/certs.d/docker.io/hosts.toml': SHA('b') });
    expect(n.nat).toEqual(['*nat', ':POSTROUTING ACCEPT', ':FLANNEL-POSTRTG -', '-A POSTROUTING -j FLANNEL-POSTRTG', 'COMMIT']);
    expect(n.stopped).toEqual(['volume webhook (pid 812)']);
    expect(n.tracers).toEqual(['strace (pid 900)']);
    expect(n.faultlineDir).toBe(false);
    expect(parseNodeState(`${NODE_OUT}\npresent`).faultlineDir).toBe(true);
  });
});

describe('differences', () => {
  test('a state compared with itself has none', () => {
    expect(differences(state(), state())).toEqual([]);
  });

  test('names each kind of leftover, one line each (a labelled object once, not twice)', () => {
    const now = state({
      namespaces: ['default', 'kube-system', 'victim (Terminating)'],
      kubeSystem: { 'pod etcd-n1': 'manifest h2, etcd:3.6', 'pods of ReplicaSet coredns-7d': '1 pod(s), coredns:1.12', 'ConfigMap coredns': 'data 0123', 'DaemonSet agent': 'generation 1', 'ConfigMap added-later': 'data 9' },
      notReady: ['kube-system pod kube-apiserver-n1 is not ready (Pending)'],
      managed: ['ValidatingWebhookConfiguration volume-webhook'],
      clusterObjects: ['ValidatingWebhookConfiguration volume-webhook', 'ValidatingWebhookConfiguration corpus-hook'],
      nodes: {
        n1: node({
          files: { '/etc/kubernetes/manifests/etcd.yaml': SHA('d'), '/etc/kubernetes/faultline-admission.yaml': SHA('e') },
          nat: [':POSTROUTING ACCEPT', ':STALE - ', '-A POSTROUTING -j STALE', '-A POSTROUTING -j FLANNEL-POSTRTG'],
          faultlineDir: true,
          stopped: ['webhook (pid 7)'],
          tracers: ['strace (pid 9)'],
        }),
      },
    });
    const d = differences(state(), now);
    expect(d).toEqual(
      expect.arrayContaining([
        'namespace victim (Terminating) was not there before',
        "faultline's ValidatingWebhookConfiguration volume-webhook is still there",
        'ValidatingWebhookConfiguration corpus-hook was not there before',
        'CustomResourceDefinition volumes.example.com is gone',
        'kube-system pod etcd-n1: manifest h2, etcd:3.6, was manifest h1, etcd:3.6',
        'kube-system pods of ReplicaSet coredns-7d: 1 pod(s), coredns:1.12, was 2 pod(s), coredns:1.12',
        'kube-system DaemonSet agent is new (generation 1)',
        'kube-system pod kube-apiserver-n1 is not ready (Pending)',
        'node n1: /etc/kubernetes/manifests/etcd.yaml changed',
        'node n1: /etc/kubernetes/faultline-admission.yaml appeared',
        'node n1: /var/lib/faultline is still there',
        'node n1: webhook (pid 7) is stopped',
        'node n1: strace (pid 9) is running',
      ]),
    );
    expect(d.find((l) => l.startsWith('node n1: nat table differs'))).toContain('+-A POSTROUTING -j STALE');
    expect(d).toHaveLength(14);
  });

  test('a node gone, a node new, a namespace gone, a file removed', () => {
    const d = differences(state({ namespaces: ['default', 'kube-system', 'local-path-storage'] }), state({ nodes: { n2: node({ files: {} }) } }));
    expect(d).toEqual(['namespace local-path-storage is gone', 'node n1 is gone', 'node n2 is new']);
    expect(differences(state(), state({ nodes: { n1: node({ files: {} }) } }))).toEqual(['node n1: /etc/kubernetes/manifests/etcd.yaml is gone']);
  });

  test('what the baseline already had (a stopped process, a managed object) is not held against the cluster', () => {
    const base = state({ managed: ['ClusterRole x'], nodes: { n1: node({ stopped: ['old (pid 3)'] }) } });
    expect(differences(base, base)).toEqual([]);
  });
});

describe('parseClusterState', () => {
  test('takes a stored state and refuses what is not one', () => {
    expect(parseClusterState(JSON.parse(JSON.stringify(state())))).toEqual(state());
    expect(() => parseClusterState({ capturedAt: 'x' })).toThrow(/not a cluster baseline: namespaces/);
  });
});

describe('provenAsBefore', () => {
  test('waits for the cluster to settle, then reports nothing', async () => {
    let t = 0;
    const seen = [state({ notReady: ['kube-system pod etcd-n1 is not ready (Running)'] }), state({ namespaces: ['default', 'kube-system', 'v (Terminating)'] }), state()];
    const left = await provenAsBefore(async () => seen.shift()!, state(), { withinMs: 60_000, sleep: async (ms) => void (t += ms), now: () => t });
    expect(left).toEqual([]);
    expect(t).toBe(6_000);
  });

  test('reports what is still left when the time is up, and a capture that fails as a reason', async () => {
    let t = 0;
    const left = await provenAsBefore(async () => state({ managed: ['CustomResourceDefinition x'] }), state(), { withinMs: 10_000, sleep: async (ms) => void (t += ms), now: () => t });
    expect(left).toEqual(["faultline's CustomResourceDefinition x is still there"]);
    expect(t).toBeGreaterThanOrEqual(10_000);
    const failing = await provenAsBefore(async () => { throw new Error('connection refused'); }, state(), { withinMs: 0, sleep: async () => undefined });
    expect(failing).toEqual(["cannot read the cluster's state: connection refused"]);
  });
});

describe('settledState', () => {
  test('a cluster still moving is captured again until two looks agree: the CNI rule written late is in the baseline', async () => {
    let t = 0;
    const seen = [state({ nodes: { n1: node({ nat: [':POSTROUTING ACCEPT'] }) } }), state(), state()];
    const base = await settledState(async () => seen.shift()!, { withinMs: 60_000, sleep: async (ms) => void (t += ms), now: () => t });
    expect(base.nodes.n1!.nat).toContain('-A POSTROUTING -j FLANNEL-POSTRTG');
    expect(seen).toEqual([]);
    expect(t).toBe(6_000);
  });

  test('two looks that agree are not enough while a component is not ready', async () => {
    let t = 0;
    const starting = state({ notReady: ['kube-flannel pod kube-flannel-ds-x is not ready (Pending)'] });
    const seen = [starting, starting, state(), state()];
    await settledState(async () => seen.shift()!, { withinMs: 60_000, sleep: async (ms) => void (t += ms), now: () => t });
    expect(seen).toEqual([]);
  });

  test('a cluster that never settles is refused, naming what moved', async () => {
    let t = 0;
    let n = 0;
    const moving = () => state({ namespaces: ['default', 'kube-system', `ns-${n++}`] });
    await expect(settledState(async () => moving(), { withinMs: 20_000, sleep: async (ms) => void (t += ms), now: () => t })).rejects.toThrow(
      /did not settle within 20s: namespace ns-\d+ was not there before/,
    );
  });
});

describe('clusterCleanCheck (FAKE provider without node access; the API is never reached)', () => {
  useTempStateDir();
  test('an open journal entry on the cluster is named at once, before any capture', async () => {
    const ref = { provider: 'kind' as const, name: 'c', context: 'kind-c', kubeconfigPath: '/fake', createdByFaultline: true };
    const j = RunJournal.create('run-open', ref);
    j.add({ id: 'slow-disk-1', scenario: 'etcd-slow-disk', faultType: 'etcd-fsync-delay', params: {}, record: {} });
    j.setState('slow-disk-1', 'applied');
    let connects = 0;
    const provider = new FakeProvider(fakeWorld());
    const check = clusterCleanCheck(provider, () => (connects++, FAKE_KUBE));
    expect(await check.left(ref, state())).toEqual(['journal run-open still holds slow-disk-1 (applied)']);
    expect(connects).toBe(0);
    j.setState('slow-disk-1', 'reverted');
    j.close();
  });
});
