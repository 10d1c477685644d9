// A plain, serialisable picture of the workloads detectors reason about. Env *values* are kept only in
// `refs` (to link dependants by host name) and are never copied into findings.
import type { CoreV1Event, V1Container, V1Pod, V1StatefulSet } from '@kubernetes/client-node';
import type { KubeContext } from '../cluster/context.js';

export interface EnvVarInfo {
  name: string;
  hasValue: boolean;
  /** e.g. "secretKeyRef postgresql/postgres-password" */
  valueFrom?: string;
}

export interface ContainerSpecInfo {
  name: string;
  env: EnvVarInfo[];
  /** env values, command and args, only for matching dependency names; never printed */
  refs: string[];
}

export interface StatefulSetInfo {
  namespace: string;
  name: string;
  serviceName?: string;
  replicas: number;
  readyReplicas: number;
  containers: ContainerSpecInfo[];
}

export interface ContainerStatusInfo {
  name: string;
  ready: boolean;
  restartCount: number;
  waitingReason?: string;
  waitingMessage?: string;
  lastTerminated?: { reason?: string; exitCode?: number; finishedAt?: string };
}

export interface PodInfo {
  namespace: string;
  name: string;
  phase?: string;
  ready: boolean;
  owner?: { kind: string; name: string };
  containers: ContainerSpecInfo[];
  statuses: ContainerStatusInfo[];
}

export interface EventInfo {
  namespace: string;
  involvedKind: string;
  involvedName: string;
  reason: string;
  message: string;
  source: string;
  count: number;
  type: string;
  lastSeen?: string;
}

export interface WorkloadSnapshot {
  takenAt: string;
  statefulSets: StatefulSetInfo[];
  pods: PodInfo[];
  /** Warning events only */
  events: EventInfo[];
}

function iso(d: Date | string | undefined | null): string | undefined {
  if (!d) return undefined;
  const t = d instanceof Date ? d : new Date(d);
  return Number.isNaN(t.getTime()) ? undefined : t.toISOString();
}

export function containerInfo(c: V1Container): ContainerSpecInfo {
  const env = (c.env ?? []).map((e) => {
    const ref = e.valueFrom;
    let valueFrom: string | undefined;
    if (ref?.secretKeyRef) valueFrom = `secretKeyRef ${ref.secretKeyRef.name}/${ref.secretKeyRef.key}`;
    else if (ref?.configMapKeyRef) valueFrom = `configMapKeyRef ${ref.configMapKeyRef.name}/${ref.configMapKeyRef.key}`;
    else if (ref?.fieldRef) valueFrom = `fieldRef ${ref.fieldRef.fieldPath}`;
    else if (ref?.resourceFieldRef) valueFrom = `resourceFieldRef ${ref.resourceFieldRef.resource}`;
    else if (ref) valueFrom = 'valueFrom';
    return { name: e.name, hasValue: e.value !== undefined && e.value !== '', ...(valueFrom ? { valueFrom } : {}) };
  });
  const refs = [...(c.env ?? []).map((e) => e.value ?? ''), ...(c.command ?? []), ...(c.args ?? [])].filter(Boolean);
  return { name: c.name, env, refs };
}

export function statefulSetInfo(s: V1StatefulSet): StatefulSetInfo {
  return {
    namespace: s.metadata?.namespace ?? '',
    name: s.metadata?.name ?? '',
    serviceName: s.spec?.serviceName || undefined,
    replicas: s.spec?.replicas ?? 1,
    readyReplicas: s.status?.readyReplicas ?? 0,
    containers: (s.spec?.template?.spec?.containers ?? []).map(containerInfo),
  };
}

export function podInfo(p: V1Pod): PodInfo {
  const owner = p.metadata?.ownerReferences?.find((o) => o.controller) ?? p.metadata?.ownerReferences?.[0];
  const statuses = (p.status?.containerStatuses ?? []).map((s) => {
    const term = s.lastState?.terminated;
    return {
      name: s.name,
      ready: s.ready,
      restartCount: s.restartCount,
      ...(s.state?.waiting?.reason ? { waitingReason: s.state.waiting.reason } : {}),
      ...(s.state?.waiting?.message ? { waitingMessage: s.state.waiting.message } : {}),
      ...(term ? { lastTerminated: { reason: term.reason, exitCode: term.exitCode, finishedAt: iso(term.finishedAt) } } : {}),
    };
  });
  const readyCond = p.status?.conditions?.find((c) => c.type === 'Ready');
  return {
    namespace: p.metadata?.namespace ?? '',
    name: p.metadata?.name ?? '',
    phase: p.status?.phase,
    ready: readyCond?.status === 'True',
    ...(owner ? { owner: { kind: owner.kind, name: owner.name } } : {}),
    containers: (p.spec?.containers ?? []).map(containerInfo),
    statuses,
  };
}

export function eventInfo(e: CoreV1Event): EventInfo {
  return {
    namespace: e.metadata?.namespace ?? e.involvedObject?.namespace ?? '',
    involvedKind: e.involvedObject?.kind ?? '',
    involvedName: e.involvedObject?.name ?? '',
    reason: e.reason ?? '',
    message: e.message ?? '',
    source: e.source?.component ?? e.reportingComponent ?? '',
    count: e.count ?? e.series?.count ?? 1,
    type: e.type ?? '',
    lastSeen: iso(e.lastTimestamp ?? e.eventTime ?? e.metadata?.creationTimestamp),
  };
}

/** Lists StatefulSets, Pods and Warning events, cluster-wide or per namespace in ctx.namespaces. */
export async function collectWorkloads(ctx: KubeContext): Promise<WorkloadSnapshot> {
  const { apps, core } = ctx.kube;
  const warn = { fieldSelector: 'type=Warning' };
  const snapshot: WorkloadSnapshot = { takenAt: new Date().toISOString(), statefulSets: [], pods: [], events: [] };
  const scopes = ctx.namespaces ?? [undefined];
  for (const namespace of scopes) {
    const [sts, pods, events] = namespace
      ? await Promise.all([
          apps.listNamespacedStatefulSet({ namespace }),
          core.listNamespacedPod({ namespace }),
          core.listNamespacedEvent({ namespace, ...warn }),
        ])
      : await Promise.all([apps.listStatefulSetForAllNamespaces(), core.listPodForAllNamespaces(), core.listEventForAllNamespaces(warn)]);
    snapshot.statefulSets.push(...sts.items.map(statefulSetInfo));
    snapshot.pods.push(...pods.items.map(podInfo));
    snapshot.events.push(...events.items.map(eventInfo));
  }
  return snapshot;
}
