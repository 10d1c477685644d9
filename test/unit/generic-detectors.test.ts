// The generic pod-pending, container-config and node-health detectors on fixture snapshots (no cluster):
// variants of each class, and healthy objects they must leave alone.
import { describe, expect, test } from '@jest/globals';
import type { V1Node, V1Pod } from '@kubernetes/client-node';
import { analyzeContainerConfig, missingRef } from '../../harness/detectors/container-config.js';
import { analyzeNodes } from '../../harness/detectors/node-health.js';
import { analyzePending, reasonsOf } from '../../harness/detectors/pod-pending.js';
import { nodeInfo, podInfo, type WorkloadSnapshot } from '../../harness/detectors/snapshot.js';

const NOW = '2026-12-01T12:00:00.000Z';
const ago = (s: number) => new Date(Date.parse(NOW) - s * 1000).toISOString();

function pending(name: string, message: string, extra: { createdAgo?: number; claims?: string[] } = {}): V1Pod {
  return {
    metadata: { name, namespace: 'team', creationTimestamp: ago(extra.createdAgo ?? 300) as never, ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web-7d9f', uid: 'u', controller: true }] },
    spec: { containers: [{ name: 'web', image: 'x' }], volumes: (extra.claims ?? []).map((c) => ({ name: c, persistentVolumeClaim: { claimName: c } })) },
    status: { phase: 'Pending', conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message }] },
  } as unknown as V1Pod;
}

function snap(over: Partial<WorkloadSnapshot>): WorkloadSnapshot {
  return { takenAt: NOW, statefulSets: [], pods: [], events: [], ...over };
}

describe('pod-pending', () => {
  test("the scheduler's reasons in words, each with what to change", () => {
    const pods = [
      pending('cpu', '0/3 nodes are available: 3 Insufficient cpu. preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod.'),
      pending('taint', '0/2 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, 1 node(s) had untolerated taint {dedicated: gpu}. preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling.'),
      pending('sel', '0/3 nodes are available: 3 node(s) didn\'t match Pod\'s node affinity/selector. preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.'),
      pending('pvc', '0/3 nodes are available: pod has unbound immediate PersistentVolumeClaims. preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.', { claims: ['data'] }),
      pending('port', '0/1 nodes are available: 1 node(s) didn\'t have free ports for the requested pod ports.'),
    ].map(podInfo);
    const fs = analyzePending(snap({ pods, claims: [{ namespace: 'team', name: 'data', phase: 'Pending', storageClass: 'fast-ssd' }] }));
    const by = Object.fromEntries(fs.map((f) => [f.resources[0]!.split('/').pop(), f]));
    expect(by.cpu!.rootCause).toMatch(/no node has enough free cpu for its requests; to change: lower spec\.containers\[\]\.resources\.requests\.cpu of ReplicaSet web-7d9f's template/);
    expect(by.taint!.summary).toContain('nodes carry a taint it does not tolerate (dedicated: gpu)');
    expect(by.sel!.rootCause).toContain('nodeSelector');
    expect(by.pvc!.summary).toContain('its PersistentVolumeClaim data (storageClass fast-ssd) are not bound');
    expect(by.port!.rootCause).toContain('hostPort');
  });

  test("the scheduler's newer wording: no taint named (the nodes' own taints are), notes after the reasons dropped", () => {
    const msg = "0/2 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, 1 node(s) had untolerated taint(s). no new claims to deallocate, preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling.";
    expect(reasonsOf(msg)).toEqual(["1 node(s) didn't match Pod's node affinity/selector", '1 node(s) had untolerated taint(s)']);
    const nodes = [nodeInfo({ metadata: { name: 'cp' }, spec: { taints: [{ key: 'node-role.kubernetes.io/control-plane', effect: 'NoSchedule' }] }, status: { conditions: [{ type: 'Ready', status: 'True' }] } } as never)];
    const [f] = analyzePending(snap({ pods: [podInfo(pending('taint', msg))], nodes }));
    expect(f!.summary).toContain('nodes carry a taint it does not tolerate (node-role.kubernetes.io/control-plane:NoSchedule)');
    expect(f!.rootCause).toContain('add a toleration for node-role.kubernetes.io/control-plane');
    // a pod that tolerates it is not told to
    const tolerant = podInfo({ ...pending('t2', msg), spec: { ...pending('t2', msg).spec, tolerations: [{ key: 'node-role.kubernetes.io/control-plane', operator: 'Exists', effect: 'NoSchedule' }] } } as never);
    expect(analyzePending(snap({ pods: [tolerant], nodes }))[0]!.summary).toContain('(a taint)');
  });

  test('quiet: a pod just created, a scheduled pod, a running one', () => {
    const young = podInfo(pending('young', '0/3 nodes are available: 3 Insufficient cpu.', { createdAgo: 5 }));
    const running = { ...podInfo(pending('ok', '')), phase: 'Running', nodeName: 'w1', unschedulable: undefined };
    expect(analyzePending(snap({ pods: [young, running] }))).toEqual([]);
  });
});

describe('container-config', () => {
  test('a missing Secret, a missing key in a ConfigMap, in an init container; names only', () => {
    expect(missingRef('secret "db-creds" not found')).toEqual({ kind: 'Secret', name: 'db-creds' });
    expect(missingRef("couldn't find key password in Secret team/db-creds")).toEqual({ kind: 'Secret', name: 'db-creds', key: 'password' });
    const pod = podInfo({
      metadata: { name: 'web-7d9f-a', namespace: 'team', ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web-7d9f', uid: 'u', controller: true }] },
      spec: { initContainers: [{ name: 'migrate', image: 'x' }], containers: [{ name: 'web', image: 'x' }] },
      status: {
        phase: 'Pending',
        initContainerStatuses: [{ name: 'migrate', ready: false, restartCount: 0, image: 'x', imageID: '', state: { waiting: { reason: 'CreateContainerConfigError', message: "couldn't find key url in ConfigMap team/app-config" } } }],
      },
    } as unknown as V1Pod);
    const [f] = analyzeContainerConfig(snap({ pods: [pod] }));
    expect(f!.summary).toBe('Pod team/web-7d9f-a container migrate cannot start: ConfigMap team/app-config has no key url');
    expect(f!.rootCause).toContain('to change: create ConfigMap app-config with key url in team, or fix the reference in spec.template.spec.initContainers[0]');
    expect(f!.resources).toContain('team/ConfigMap/app-config');
  });

  test('a ConfigMap volume that does not exist (FailedMount, the pod never starts its containers)', () => {
    const pod = podInfo({
      metadata: { name: 'web-7d9f-b', namespace: 'team', ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web-7d9f', uid: 'u', controller: true }] },
      spec: { containers: [{ name: 'web', image: 'x' }] },
      status: { phase: 'Pending', containerStatuses: [{ name: 'web', ready: false, restartCount: 0, image: 'x', imageID: '', state: { waiting: { reason: 'ContainerCreating' } } }] },
    } as unknown as V1Pod);
    const events = [{ namespace: 'team', involvedKind: 'Pod', involvedName: 'web-7d9f-b', reason: 'FailedMount', message: 'MountVolume.SetUp failed for volume "cfg" : configmap "app-config" not found', source: 'kubelet', count: 6, type: 'Warning' }];
    const [f] = analyzeContainerConfig(snap({ pods: [pod], events }));
    expect(f!.summary).toBe('Pod team/web-7d9f-b cannot start: ConfigMap team/app-config does not exist (volume cfg)');
    expect(f!.rootCause).toContain('or fix spec.template.spec.volumes (cfg)');
  });

  test('quiet: env from the downward API, a running container', () => {
    const pod = podInfo({
      metadata: { name: 'p', namespace: 'team' },
      spec: { containers: [{ name: 'web', image: 'x', env: [{ name: 'NODE', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } }] }] },
      status: { phase: 'Running', containerStatuses: [{ name: 'web', ready: true, restartCount: 0, image: 'x', imageID: '', state: { running: {} } }] },
    } as unknown as V1Pod);
    expect(analyzeContainerConfig(snap({ pods: [pod] }))).toEqual([]);
  });
});

describe('node-health', () => {
  const node = (name: string, conditions: Array<Record<string, string>>): V1Node => ({ metadata: { name }, spec: { taints: [{ key: 'node.kubernetes.io/unreachable', effect: 'NoSchedule' }] }, status: { conditions } }) as unknown as V1Node;
  test('NotReady and DiskPressure, with the pods on the node', () => {
    const nodes = [
      node('w1', [{ type: 'Ready', status: 'Unknown', reason: 'NodeStatusUnknown', message: 'Kubelet stopped posting node status.', lastTransitionTime: ago(600) }]),
      node('w2', [{ type: 'Ready', status: 'True' }, { type: 'DiskPressure', status: 'True', reason: 'KubeletHasDiskPressure', message: 'kubelet has disk pressure' }]),
    ].map(nodeInfo);
    const onW1 = { ...podInfo(pending('a', '')), phase: 'Running', nodeName: 'w1' };
    const [nr, dp] = analyzeNodes(snap({ nodes, pods: [onW1] }));
    expect(nr!.summary).toBe(`Node w1 is NotReady since ${ago(600)}; 1 pod(s) on it: team/a`);
    expect(nr!.rootCause).toContain("to change: the node's kubelet and container runtime");
    expect(dp!.summary).toContain('Node w2 has DiskPressure');
  });

  test('quiet on healthy nodes (Ready, no pressure)', () => {
    const ok = nodeInfo(node('w3', [{ type: 'Ready', status: 'True' }, { type: 'MemoryPressure', status: 'False' }, { type: 'DiskPressure', status: 'False' }]));
    expect(analyzeNodes(snap({ nodes: [ok] }))).toEqual([]);
  });
});
