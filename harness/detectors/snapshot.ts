// A plain, serialisable picture of the workloads detectors reason about. Env *values* are kept only in
// `refs` (to link dependants by host name) and are never copied into findings.
import type { CoreV1Event, V1Container, V1Node, V1Pod, V1Probe, V1StatefulSet } from '@kubernetes/client-node';
import type { KubeContext } from '../cluster/context.js';
import { redactText } from '../core/redact.js';
import { crashingContainers } from './pod-health.js';

export interface EnvVarInfo {
  name: string;
  hasValue: boolean;
  /** e.g. "secretKeyRef postgresql/postgres-password" */
  valueFrom?: string;
}

export interface ProbeInfo {
  kind: 'httpGet' | 'tcpSocket' | 'exec' | 'grpc';
  /** httpGet, tcpSocket, grpc: a number or a port name */
  port?: number | string;
  path?: string;
  periodSeconds: number;
  failureThreshold: number;
  timeoutSeconds: number;
  initialDelaySeconds: number;
}

export interface ContainerSpecInfo {
  name: string;
  /** the pod spec list it is in; absent = containers */
  list?: 'initContainers' | 'ephemeralContainers';
  env: EnvVarInfo[];
  /** env values, command and args, only for matching dependency names; never printed */
  refs: string[];
  /** declared container ports */
  ports?: Array<{ port: number; name?: string }>;
  liveness?: ProbeInfo;
  startup?: ProbeInfo;
  /** memory limit and request as written ("256Mi") */
  memory?: { limit?: string; request?: string };
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
  lastTerminated?: { reason?: string; exitCode?: number; startedAt?: string; finishedAt?: string };
  /** when the running instance started */
  runningSince?: string;
  /** the last lines the previous instance logged (redacted), for containers that keep restarting */
  lastLog?: string[];
}

export interface PodInfo {
  namespace: string;
  name: string;
  phase?: string;
  createdAt?: string;
  nodeName?: string;
  /** the PodScheduled condition when it is False: the scheduler's reason and message */
  unschedulable?: { reason?: string; message?: string };
  /** PersistentVolumeClaims the pod mounts */
  claims?: string[];
  /** its tolerations, as "key=value:effect" ("" key with operator Exists tolerates every taint) */
  tolerations?: Array<{ key?: string; operator?: string; value?: string; effect?: string }>;
  /** when the pod started (status.startTime) */
  startedAt?: string;
  /** the pod's restartPolicy: a Never/OnFailure pod that finished is done, not crashing */
  restartPolicy?: string;
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

export interface NodeInfo {
  name: string;
  /** conditions that are not their healthy value: Ready not True, a pressure True */
  problems: Array<{ type: string; status: string; reason?: string; message?: string; since?: string }>;
  unschedulable: boolean;
  taints: string[];
}

export interface ClaimInfo {
  namespace: string;
  name: string;
  phase?: string;
  storageClass?: string;
}

export interface WorkloadSnapshot {
  takenAt: string;
  statefulSets: StatefulSetInfo[];
  pods: PodInfo[];
  /** Warning events only */
  events: EventInfo[];
  /** read in cluster-wide scans (and when namespaces are given: nodes still matter to their pods) */
  nodes?: NodeInfo[];
  claims?: ClaimInfo[];
}

export function nodeInfo(n: V1Node): NodeInfo {
  const problems = (n.status?.conditions ?? [])
    .filter((c) => (c.type === 'Ready' ? c.status !== 'True' : c.status === 'True' && /Pressure$|NetworkUnavailable/.test(c.type)))
    .map((c) => ({ type: c.type, status: c.status, ...(c.reason ? { reason: c.reason } : {}), ...(c.message ? { message: c.message } : {}), ...(iso(c.lastTransitionTime) ? { since: iso(c.lastTransitionTime) } : {}) }));
  return {
    name: n.metadata?.name ?? '',
    problems,
    unschedulable: !!n.spec?.unschedulable,
    taints: (n.spec?.taints ?? []).map((t) => `${t.key}${t.value ? `=${t.value}` : ''}:${t.effect}`),
  };
}

function iso(d: Date | string | undefined | null): string | undefined {
  if (!d) return undefined;
  const t = d instanceof Date ? d : new Date(d);
  return Number.isNaN(t.getTime()) ? undefined : t.toISOString();
}

export function containerInfo(c: V1Container, list?: ContainerSpecInfo['list']): ContainerSpecInfo {
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
  const ports = (c.ports ?? []).map((p) => ({ port: p.containerPort, ...(p.name ? { name: p.name } : {}) }));
  const liveness = probeInfo(c.livenessProbe);
  const startup = probeInfo(c.startupProbe);
  const limit = c.resources?.limits?.memory;
  const request = c.resources?.requests?.memory;
  return {
    name: c.name,
    ...(list ? { list } : {}),
    env,
    refs,
    ...(ports.length ? { ports } : {}),
    ...(liveness ? { liveness } : {}),
    ...(startup ? { startup } : {}),
    ...(limit || request ? { memory: { ...(limit ? { limit: String(limit) } : {}), ...(request ? { request: String(request) } : {}) } } : {}),
  };
}

/** A probe's target and budget; an exec probe's command is not kept (it may carry credentials). */
export function probeInfo(p: V1Probe | undefined): ProbeInfo | undefined {
  if (!p) return undefined;
  const kind = p.httpGet ? 'httpGet' : p.tcpSocket ? 'tcpSocket' : p.grpc ? 'grpc' : 'exec';
  const port = p.httpGet?.port ?? p.tcpSocket?.port ?? p.grpc?.port;
  return {
    kind,
    ...(port !== undefined ? { port: typeof port === 'number' ? port : /^\d+$/.test(String(port)) ? Number(port) : String(port) } : {}),
    ...(p.httpGet?.path ? { path: p.httpGet.path } : {}),
    periodSeconds: p.periodSeconds ?? 10,
    failureThreshold: p.failureThreshold ?? 3,
    timeoutSeconds: p.timeoutSeconds ?? 1,
    initialDelaySeconds: p.initialDelaySeconds ?? 0,
  };
}

export function statefulSetInfo(s: V1StatefulSet): StatefulSetInfo {
  return {
    namespace: s.metadata?.namespace ?? '',
    name: s.metadata?.name ?? '',
    serviceName: s.spec?.serviceName || undefined,
    replicas: s.spec?.replicas ?? 1,
    readyReplicas: s.status?.readyReplicas ?? 0,
    containers: templateContainers(s.spec?.template?.spec),
  };
}

/** Every container list of a pod spec: init containers first (they run first), then the regular ones. */
export function templateContainers(spec: { containers?: V1Container[]; initContainers?: V1Container[] } | undefined): ContainerSpecInfo[] {
  return [...(spec?.initContainers ?? []).map((c) => containerInfo(c, 'initContainers')), ...(spec?.containers ?? []).map((c) => containerInfo(c))];
}

export function podInfo(p: V1Pod): PodInfo {
  const owner = p.metadata?.ownerReferences?.find((o) => o.controller) ?? p.metadata?.ownerReferences?.[0];
  // init containers restart (and crash-loop) too: their statuses count like the others'
  const statuses = [...(p.status?.initContainerStatuses ?? []), ...(p.status?.containerStatuses ?? [])].map((s) => {
    const term = s.lastState?.terminated;
    return {
      name: s.name,
      ready: s.ready,
      restartCount: s.restartCount,
      ...(s.state?.waiting?.reason ? { waitingReason: s.state.waiting.reason } : {}),
      ...(s.state?.waiting?.message ? { waitingMessage: s.state.waiting.message } : {}),
      ...(term ? { lastTerminated: { reason: term.reason, exitCode: term.exitCode, startedAt: iso(term.startedAt), finishedAt: iso(term.finishedAt) } } : {}),
      ...(iso(s.state?.running?.startedAt) ? { runningSince: iso(s.state?.running?.startedAt) } : {}),
    };
  });
  const readyCond = p.status?.conditions?.find((c) => c.type === 'Ready');
  const scheduled = p.status?.conditions?.find((c) => c.type === 'PodScheduled');
  const claims = (p.spec?.volumes ?? []).flatMap((v) => (v.persistentVolumeClaim?.claimName ? [v.persistentVolumeClaim.claimName] : []));
  return {
    namespace: p.metadata?.namespace ?? '',
    name: p.metadata?.name ?? '',
    phase: p.status?.phase,
    ...(iso(p.metadata?.creationTimestamp) ? { createdAt: iso(p.metadata?.creationTimestamp) } : {}),
    ...(p.spec?.nodeName ? { nodeName: p.spec.nodeName } : {}),
    ...(scheduled?.status === 'False' ? { unschedulable: { ...(scheduled.reason ? { reason: scheduled.reason } : {}), ...(scheduled.message ? { message: scheduled.message } : {}) } } : {}),
    ...(claims.length ? { claims } : {}),
    ...(p.spec?.tolerations?.length ? { tolerations: p.spec.tolerations.map((t) => ({ ...(t.key ? { key: t.key } : {}), ...(t.operator ? { operator: t.operator } : {}), ...(t.value ? { value: t.value } : {}), ...(t.effect ? { effect: t.effect } : {}) })) } : {}),
    ...(iso(p.status?.startTime) ? { startedAt: iso(p.status?.startTime) } : {}),
    ...(p.spec?.restartPolicy ? { restartPolicy: p.spec.restartPolicy } : {}),
    ready: readyCond?.status === 'True',
    ...(owner ? { owner: { kind: owner.kind, name: owner.name } } : {}),
    containers: templateContainers(p.spec),
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

/** Events older than this say nothing about now (the API server's own event TTL is 1 h): a scan keeps only newer
 *  ones, so its memory follows the cluster's current trouble, not its history. */
export const EVENT_MAX_AGE_MS = 3_600_000;

/** The events seen within EVENT_MAX_AGE_MS of `now` (those without any time are kept). */
export function recentEvents(events: CoreV1Event[], now: string): EventInfo[] {
  const since = Date.parse(now) - EVENT_MAX_AGE_MS;
  return events.map(eventInfo).filter((e) => !e.lastSeen || Date.parse(e.lastSeen) >= since);
}

/** Every pod, cluster-wide or in the namespaces of ctx.namespaces. */
export async function scopedPods(ctx: KubeContext): Promise<V1Pod[]> {
  if (!ctx.namespaces) return (await ctx.kube.core.listPodForAllNamespaces()).items;
  return (await Promise.all(ctx.namespaces.map((namespace) => ctx.kube.core.listNamespacedPod({ namespace })))).flatMap((l) => l.items);
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
    snapshot.events.push(...recentEvents(events.items, snapshot.takenAt));
    const claims = (await optional(() => (namespace ? core.listNamespacedPersistentVolumeClaim({ namespace }) : core.listPersistentVolumeClaimForAllNamespaces())))?.items ?? [];
    (snapshot.claims ??= []).push(
      ...claims.map((c) => ({ namespace: c.metadata?.namespace ?? '', name: c.metadata?.name ?? '', ...(c.status?.phase ? { phase: c.status.phase } : {}), ...(c.spec?.storageClassName ? { storageClass: c.spec.storageClassName } : {}) })),
    );
  }
  // a user allowed only into namespaces may not list nodes: the node detector then stays quiet rather than blind the rest
  const nodes = await optional(() => core.listNode());
  if (nodes) snapshot.nodes = nodes.items.map(nodeInfo);
  await attachLastLogs(ctx, snapshot);
  return snapshot;
}

/** A read that may be refused (RBAC) or unsupported: undefined instead of failing the whole snapshot. */
async function optional<T>(read: () => Promise<T>): Promise<T | undefined> {
  try {
    return await read();
  } catch {
    return undefined;
  }
}

/** At most this many crash-looping containers get their last log lines read in one scan. */
const LOGS_PER_SCAN = 10;
const LOG_LINES = 5;

/** The previous instance's last log lines of each container that keeps restarting: what it said before it died. */
async function attachLastLogs(ctx: KubeContext, snapshot: WorkloadSnapshot): Promise<void> {
  const wanted = snapshot.pods.flatMap((p) => crashingContainers(p, snapshot.takenAt).map((s) => ({ p, s }))).slice(0, LOGS_PER_SCAN);
  await Promise.all(
    wanted.map(async ({ p, s }) => {
      try {
        const log = await ctx.kube.core.readNamespacedPodLog({ name: p.name, namespace: p.namespace, container: s.name, previous: true, tailLines: LOG_LINES });
        // logs can print credentials: redacted like every report line
        s.lastLog = redactText(String(log)).split('\n').filter(Boolean).slice(-LOG_LINES).map((l) => (l.length > 300 ? `${l.slice(0, 300)}...` : l));
      } catch {
        // no previous instance log (yet): the exit code stands on its own
      }
    }),
  );
}
