// cpu-throttling on fixtures (no cluster): cAdvisor text as the kubelet serves it, windows between readings, and
// findings for the class (a Deployment's bursts at a low average, a StatefulSet that needs more CPU, a DaemonSet,
// a bare pod, Guaranteed QoS, a sidecar with the limit) and the quiet cases. The cpu-limit fault and the runbook's
// remediation run against the FAKE in-memory API of helpers/fake-kube.ts; the kernel's throttling is e2e territory.
import { describe, expect, test } from '@jest/globals';
import type { V1Pod } from '@kubernetes/client-node';
import { cpuCountersFromText, type CpuCounters } from '../../harness/detectors/cadvisor.js';
import { analyzeCpuThrottling, cpuMillis, windowBetween, type ContainerCpu, type CpuWindow } from '../../harness/detectors/cpu-throttling-analysis.js';
import { limitedContainers } from '../../harness/detectors/cpu-throttling.js';
import { cpuLimit } from '../../harness/faults/cpu-limit.js';
import { cpuThrottlingRunbook } from '../../harness/runbooks/cpu-throttling.js';
import type { RunContext } from '../../harness/cluster/context.js';
import { FakeKube } from './helpers/fake-kube.js';

const ID = 'id="/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-burstable.slice/kubelet-kubepods-burstable-podfa.slice/cri-containerd-b9.scope"';
const CADVISOR = [
  '# HELP container_cpu_cfs_periods_total Number of elapsed enforcement period intervals.',
  '# TYPE container_cpu_cfs_periods_total counter',
  'container_cpu_cfs_periods_total{container="",id="/kubelet.slice/x.slice",image="",name="",namespace="realtime-db",pod="query-engine-676d6f65b8-lh5zt"} 64 1796188959468',
  `container_cpu_cfs_periods_total{container="query-engine",${ID},image="docker.io/faultline/query-engine:v1",name="b9",namespace="realtime-db",pod="query-engine-676d6f65b8-lh5zt"} 64 1796188959468`,
  `container_cpu_cfs_throttled_periods_total{container="query-engine",${ID},image="docker.io/faultline/query-engine:v1",name="b9",namespace="realtime-db",pod="query-engine-676d6f65b8-lh5zt"} 35 1796188959468`,
  `container_cpu_cfs_throttled_seconds_total{container="query-engine",${ID},image="docker.io/faultline/query-engine:v1",name="b9",namespace="realtime-db",pod="query-engine-676d6f65b8-lh5zt"} 1.25 1796188959468`,
  `container_cpu_usage_seconds_total{container="query-engine",cpu="total",${ID},image="docker.io/faultline/query-engine:v1",name="b9",namespace="realtime-db",pod="query-engine-676d6f65b8-lh5zt"} 0.795431747 1796188959468`,
  `container_start_time_seconds{container="query-engine",${ID},image="docker.io/faultline/query-engine:v1",name="b9",namespace="realtime-db",pod="query-engine-676d6f65b8-lh5zt"} 1.796188930e+09 1796188959468`,
  `container_spec_cpu_period{container="query-engine",${ID},image="docker.io/faultline/query-engine:v1",name="b9",namespace="realtime-db",pod="query-engine-676d6f65b8-lh5zt"} 100000`,
  'container_cpu_usage_seconds_total{container="POD",cpu="total",id="/x",image="registry.k8s.io/pause:3.10.1",name="a1",namespace="realtime-db",pod="query-engine-676d6f65b8-lh5zt"} 0.03 1796188942799',
  // a container with no CPU limit has usage but no CFS counters
  'container_cpu_usage_seconds_total{container="coredns",cpu="total",id="/y",image="coredns",name="c",namespace="kube-system",pod="coredns-1"} 12.5 1796188959000',
].join('\n');

describe('cAdvisor counters', () => {
  test('one reading per container with CFS counters, stamped when cAdvisor read the cgroup; pod cgroups, the sandbox and unlimited containers left out', () => {
    const m = cpuCountersFromText(CADVISOR, 0);
    expect([...m.keys()]).toEqual(['realtime-db/query-engine-676d6f65b8-lh5zt/query-engine']);
    const c = m.get('realtime-db/query-engine-676d6f65b8-lh5zt/query-engine')!;
    expect(c).toMatchObject({ periods: 64, throttledPeriods: 35, throttledSeconds: 1.25, usageSeconds: 0.795431747, at: 1796188959468, startedAt: 1796188930000, periodMicros: 100000 });
  });
});

const reading = (over: Partial<CpuCounters>): CpuCounters => ({ namespace: 'n', pod: 'p', container: 'c', periods: 0, throttledPeriods: 0, throttledSeconds: 0, usageSeconds: 0, at: 100_000, startedAt: 0, periodMicros: 100_000, ...over });

describe('windows between readings', () => {
  test('the difference of two readings of the same container', () => {
    const w = windowBetween(reading({ periods: 10, throttledPeriods: 2, usageSeconds: 1, at: 70_000 }), reading({ periods: 70, throttledPeriods: 32, usageSeconds: 1.9, at: 100_000 }));
    expect(w).toMatchObject({ sinceStart: false, seconds: 30, periods: 60, throttledPeriods: 30 });
    expect(w.usageSeconds).toBeCloseTo(0.9);
  });
  test('no earlier reading, a restarted container, or the same cAdvisor reading again: since the container started', () => {
    const later = reading({ periods: 70, at: 100_000, startedAt: 40_000 });
    expect(windowBetween(undefined, later)).toMatchObject({ sinceStart: true, seconds: 60, periods: 70 });
    expect(windowBetween(reading({ periods: 500, at: 50_000, startedAt: 1_000 }), later).sinceStart).toBe(true);
    expect(windowBetween(reading({ periods: 70, at: 100_000, startedAt: 40_000 }), later).sinceStart).toBe(true);
  });
});

const win = (over: Partial<CpuWindow>): CpuWindow => ({ seconds: 30, sinceStart: false, periods: 100, throttledPeriods: 50, throttledSeconds: 2, usageSeconds: 1.2, ...over });
const container = (over: Partial<ContainerCpu>): ContainerCpu => ({
  namespace: 'realtime-db',
  pod: 'query-engine-abc',
  container: 'query-engine',
  node: 'node-1',
  owner: { kind: 'Deployment', name: 'query-engine' },
  qosClass: 'Burstable',
  limitMillis: 200,
  requestMillis: 50,
  periodMicros: 100_000,
  window: win({}),
  ...over,
});

describe('cpu-throttling analysis', () => {
  test("a Deployment's bursts at a low average: names the container, the throttled share, the average against the limit, the QoS class and the quota", () => {
    const [f, ...rest] = analyzeCpuThrottling({ containers: [container({})], unreadable: [] });
    expect(rest).toEqual([]);
    expect(f!.summary).toBe('Deployment realtime-db/query-engine container query-engine is CPU-throttled in 50% of its CFS periods while it averages 40m, 20% of its 200m limit');
    expect(f!.rootCause).toContain('bursts of CPU use exceed the CFS quota of limits.cpu 200m (20 ms of CPU per 100 ms period)');
    expect(f!.rootCause).toContain('QoS class Burstable: requests.cpu 50m, limits.cpu 200m');
    expect(f!.evidence[0]).toBe('container_cpu_cfs_throttled_periods_total / container_cpu_cfs_periods_total: 50 of 100 periods throttled (50%) over the last 30 s');
    expect(f!.resources).toEqual(['realtime-db/Deployment/query-engine', 'realtime-db/Pod/query-engine-abc']);
    expect(f!.runbook).toBe('cpu-throttling');
  });

  test('a StatefulSet whose two pods average near their limit: one finding, "needs more CPU", both pods named', () => {
    const sts = { kind: 'StatefulSet', name: 'db' };
    const fs = analyzeCpuThrottling({
      containers: [
        container({ pod: 'db-0', owner: sts, limitMillis: 1000, requestMillis: 1000, qosClass: 'Guaranteed', window: win({ usageSeconds: 27, periods: 300, throttledPeriods: 120 }) }),
        container({ pod: 'db-1', owner: sts, limitMillis: 1000, requestMillis: 1000, qosClass: 'Guaranteed', window: win({ usageSeconds: 28.5, periods: 300, throttledPeriods: 150 }) }),
      ],
      unreadable: [],
    });
    expect(fs).toHaveLength(1);
    expect(fs[0]!.summary).toContain('StatefulSet realtime-db/db container query-engine is CPU-throttled in 45% of its CFS periods while it averages 925m, 93% of its 1 limit');
    expect(fs[0]!.rootCause).toContain('it needs more CPU than limits.cpu 1 allows');
    expect(fs[0]!.rootCause).toContain('QoS class Guaranteed');
    expect(fs[0]!.evidence).toContain('pods: db-0 on node-1, db-1 on node-1');
  });

  test('a DaemonSet, a bare pod, and a throttled sidecar next to an unlimited main container each name their own owner and container', () => {
    const fs = analyzeCpuThrottling({
      containers: [
        container({ owner: { kind: 'DaemonSet', name: 'agent' }, pod: 'agent-x', container: 'agent' }),
        container({ owner: { kind: 'Pod', name: 'one-off' }, pod: 'one-off', container: 'job', requestMillis: undefined, qosClass: 'Burstable' }),
        container({ container: 'envoy', window: win({ sinceStart: true, seconds: 45 }) }),
      ],
      unreadable: [],
    });
    expect(fs.map((f) => f.resources[0])).toEqual(['realtime-db/DaemonSet/agent', 'realtime-db/Pod/one-off', 'realtime-db/Deployment/query-engine']);
    expect(fs[1]!.rootCause).toContain('no requests.cpu');
    expect(fs[2]!.summary).toContain('container envoy');
    expect(fs[2]!.evidence[0]).toContain('since the container started 45 s ago');
  });

  test('quiet: throttled in fewer than 25% of periods, too few periods to judge, no reading yet', () => {
    expect(analyzeCpuThrottling({ containers: [container({ window: win({ throttledPeriods: 24 }) })], unreadable: [] })).toEqual([]);
    expect(analyzeCpuThrottling({ containers: [container({ window: win({ periods: 19, throttledPeriods: 19 }) })], unreadable: [] })).toEqual([]);
    expect(analyzeCpuThrottling({ containers: [container({ window: undefined })], unreadable: ['node-1: GET: HTTP 403'] })).toEqual([]);
  });

  test('CPU quantities', () => {
    expect([cpuMillis('200m'), cpuMillis('1'), cpuMillis('1.5'), cpuMillis('0.25'), cpuMillis('250000u'), cpuMillis('x'), cpuMillis(undefined)]).toEqual([200, 1000, 1500, 250, 250, undefined, undefined]);
  });
});

function pod(name: string, over: Record<string, any> = {}): V1Pod {
  return {
    metadata: { name, namespace: 'realtime-db', ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'query-engine-676d6f65b8', controller: true, uid: 'u' }] },
    spec: { nodeName: 'node-1', containers: [{ name: 'query-engine', resources: { limits: { cpu: '200m' }, requests: { cpu: '50m' } } }, { name: 'log-shipper' }] },
    status: { phase: 'Running', qosClass: 'Burstable' },
    ...over,
  } as V1Pod;
}

describe('the containers the detector reads', () => {
  test('running containers with a CPU limit, their controller through the ReplicaSet, their QoS class', () => {
    const cs = limitedContainers([pod('a'), pod('b', { status: { phase: 'Pending' } })], new Map([['realtime-db/query-engine-676d6f65b8', 'query-engine']]));
    expect(cs).toEqual([{ namespace: 'realtime-db', pod: 'a', container: 'query-engine', node: 'node-1', owner: { kind: 'Deployment', name: 'query-engine' }, qosClass: 'Burstable', limitMillis: 200, requestMillis: 50 }]);
  });
  test('a ReplicaSet no Deployment owns is the owner itself; a pod without owner is its own', () => {
    expect(limitedContainers([pod('a')], new Map())[0]!.owner).toEqual({ kind: 'ReplicaSet', name: 'query-engine-676d6f65b8' });
    expect(limitedContainers([pod('solo', { metadata: { name: 'solo', namespace: 'x' } })], new Map())[0]!.owner).toEqual({ kind: 'Pod', name: 'solo' });
  });
});

function deployment(resources?: Record<string, any>) {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'query-engine', namespace: 'realtime-db', generation: 1 },
    spec: { replicas: 1, selector: { matchLabels: { app: 'query-engine' } }, template: { spec: { containers: [{ name: 'sidecar' }, { name: 'query-engine', ...(resources ? { resources } : {}) }] } } },
    status: { observedGeneration: 1, replicas: 1, updatedReplicas: 1, availableReplicas: 1, readyReplicas: 1 },
  };
}

function fakeCtx(kube: FakeKube): RunContext {
  return { runId: 'r1', cluster: { provider: 'kind', name: 'fake', context: 'fake', kubeconfigPath: '/fake', createdByFaultline: true }, provider: {} as any, kube: kube.clients(), log: () => {} };
}

const resourcesOf = (kube: FakeKube) => kube.deployments.get('realtime-db/query-engine')!.spec.template.spec.containers[1].resources;
const faultParams = cpuLimit.paramsSchema.parse({ namespace: 'realtime-db', workload: { kind: 'Deployment', name: 'query-engine' }, container: 'query-engine', limit: '200m' });

describe('cpu-limit fault (fake API)', () => {
  test('plan captures the resources; apply sets the limit on that container only and waits for the rollout; revert puts them back exactly', async () => {
    const kube = new FakeKube();
    kube.deployments.set('realtime-db/query-engine', deployment({ requests: { cpu: '50m', memory: '32Mi' }, limits: { memory: '64Mi' } }));
    const ctx = fakeCtx(kube);
    const r = await cpuLimit.plan(ctx, faultParams);
    expect(r.before).toEqual({ requests: { cpu: '50m', memory: '32Mi' }, limits: { memory: '64Mi' } });
    await cpuLimit.apply(ctx, faultParams, r);
    expect(resourcesOf(kube)).toEqual({ requests: { cpu: '50m', memory: '32Mi' }, limits: { memory: '64Mi', cpu: '200m' } });
    expect(kube.deployments.get('realtime-db/query-engine')!.spec.template.spec.containers[0]).toEqual({ name: 'sidecar' });
    const patches = kube.calls.length;
    await cpuLimit.apply(ctx, faultParams, r);
    expect(kube.calls.length).toBe(patches); // idempotent: already set, no second patch
    await cpuLimit.revert(ctx, r);
    expect(resourcesOf(kube)).toEqual({ requests: { cpu: '50m', memory: '32Mi' }, limits: { memory: '64Mi' } });
    await cpuLimit.revert(ctx, r); // twice is safe
    expect(resourcesOf(kube)).toEqual({ requests: { cpu: '50m', memory: '32Mi' }, limits: { memory: '64Mi' } });
  });

  test('a container with no resources gets them removed again; a fix made after the fault is kept; a workload that is gone is nothing to revert', async () => {
    const kube = new FakeKube();
    kube.deployments.set('realtime-db/query-engine', deployment());
    const ctx = fakeCtx(kube);
    const r = await cpuLimit.plan(ctx, faultParams);
    expect(r.before).toBeUndefined();
    await cpuLimit.apply(ctx, faultParams, r);
    await cpuLimit.revert(ctx, r);
    expect(resourcesOf(kube)).toBeUndefined();
    await cpuLimit.apply(ctx, faultParams, r);
    kube.deployments.get('realtime-db/query-engine')!.spec.template.spec.containers[1].resources = { limits: { cpu: '1' } };
    await cpuLimit.revert(ctx, r);
    expect(resourcesOf(kube)).toEqual({ limits: { cpu: '1' } });
    kube.deployments.clear();
    await expect(cpuLimit.revert(ctx, r)).resolves.toBeUndefined();
    await expect(cpuLimit.plan(ctx, faultParams)).rejects.toThrow('Deployment realtime-db/query-engine not found');
  });

  test('bad params are refused when the scenario loads', () => {
    expect(cpuLimit.paramsSchema.safeParse({ ...faultParams, limit: '200 millicores' }).success).toBe(false);
    expect(cpuLimit.paramsSchema.safeParse({ ...faultParams, workload: { kind: 'Job', name: 'x' } }).success).toBe(false);
  });
});

describe('cpu-throttling runbook', () => {
  const finding = analyzeCpuThrottling({ containers: [container({})], unreadable: [] })[0]!;
  const params = { namespace: 'realtime-db', workload: { kind: 'Deployment', name: 'query-engine' }, container: 'query-engine', limit: '1', load: { service: 'query-engine' }, p99BudgetMs: 150 };

  test('remediate raises the limit the diagnosis names (Guaranteed: requests equal to limits) and waits for the rollout', async () => {
    const kube = new FakeKube();
    kube.deployments.set('realtime-db/query-engine', deployment({ requests: { cpu: '50m', memory: '32Mi' }, limits: { cpu: '200m', memory: '64Mi' } }));
    const ctx = fakeCtx(kube);
    const d = await cpuThrottlingRunbook.diagnose(ctx, finding);
    expect(d.data).toEqual({ owner: { kind: 'Deployment', name: 'query-engine' }, namespace: 'realtime-db', container: 'query-engine' });
    const res = await cpuThrottlingRunbook.remediate(ctx, d, { ...params, guaranteed: true });
    expect(res.mode).toBe('automatic');
    expect(res.actions[0]).toBe('set limits.cpu 1 and requests equal to limits (Guaranteed QoS) on container query-engine of Deployment realtime-db/query-engine (was 200m)');
    expect(resourcesOf(kube)).toEqual({ requests: { cpu: '1', memory: '64Mi' }, limits: { cpu: '1', memory: '64Mi' } });
  });

  test('params that name another workload or container leave the change to a person', async () => {
    const kube = new FakeKube();
    const ctx = fakeCtx(kube);
    const d = await cpuThrottlingRunbook.diagnose(ctx, finding);
    const res = await cpuThrottlingRunbook.remediate(ctx, d, { ...params, container: 'sidecar' });
    expect(res.mode).toBe('manual');
    expect(res.actions[0]).toContain('raise limits.cpu of container query-engine in Deployment realtime-db/query-engine');
    expect(kube.calls).toEqual([]);
  });

  test('verify params are checked when the scenario loads', () => {
    expect(cpuThrottlingRunbook.verifyParams.safeParse(params).success).toBe(true);
    expect(cpuThrottlingRunbook.verifyParams.safeParse({ ...params, p99BudgetMs: undefined }).success).toBe(false);
    expect(cpuThrottlingRunbook.verifyParams.safeParse({ ...params, load: { service: 'q', bursts: 3 } }).success).toBe(false);
  });
});
