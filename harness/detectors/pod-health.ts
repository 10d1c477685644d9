// Shared pod-health rules, so the crashloop detector and the dependants of specific findings agree.
import type { ContainerSpecInfo, ContainerStatusInfo, PodInfo, WorkloadSnapshot } from './snapshot.js';

/** restarts at or above this, with the container not ready and a recent exit, count as crash-looping */
export const RESTART_THRESHOLD = 3;
const RECENT_MS = 10 * 60_000;
const STABLE_MS = 2 * 60_000;

/** Containers restarting again and again, whatever their state right now: in back-off, or with several restarts and
 *  the last one recent (a container its liveness probe kills every minute is Running and even ready in between).
 *  A pod that has finished its work is not crashing. */
export function crashingContainers(pod: PodInfo, takenAt: string): ContainerStatusInfo[] {
  const now = new Date(takenAt).getTime();
  if (pod.phase === 'Succeeded') return [];
  return pod.statuses.filter((s) => {
    if (s.waitingReason === 'CrashLoopBackOff') return true;
    if (s.restartCount < RESTART_THRESHOLD) return false;
    const finished = s.lastTerminated?.finishedAt ? new Date(s.lastTerminated.finishedAt).getTime() : NaN;
    return Number.isFinite(finished) && now - finished <= RECENT_MS && !loopEnded(s, finished, now);
  });
}

/** A loop that has ended: ready, and up for longer than STABLE_MS and twice what its last instance lasted. A loop
 *  kills each instance after about the same time (a liveness probe's threshold, a leak reaching the limit), so
 *  the running one outlasting the last by far means the cause has gone: kube-scheduler and
 *  kube-controller-manager exit when they lose their lease while the API server restarts, and run on after it. */
function loopEnded(s: ContainerStatusInfo, finished: number, now: number): boolean {
  const since = s.runningSince ? Date.parse(s.runningSince) : NaN;
  const lastStart = s.lastTerminated?.startedAt ? Date.parse(s.lastTerminated.startedAt) : NaN;
  if (!s.ready || !Number.isFinite(since) || !Number.isFinite(lastStart)) return false;
  const up = now - since;
  return up >= STABLE_MS && up > 2 * (finished - lastStart);
}

/** Restarts per minute since the pod started, when its start is known. */
export function restartRate(pod: PodInfo, s: ContainerStatusInfo, takenAt: string): number | undefined {
  const start = pod.startedAt ? Date.parse(pod.startedAt) : NaN;
  const minutes = (Date.parse(takenAt) - start) / 60_000;
  return Number.isFinite(minutes) && minutes > 0 ? s.restartCount / minutes : undefined;
}

/** For dependants a looser rule: crash-looping, or restarting and not ready. */
export function isUnhealthyDependant(pod: PodInfo, takenAt: string): boolean {
  if (crashingContainers(pod, takenAt).length > 0) return true;
  return !pod.ready && pod.statuses.some((s) => s.restartCount > 0 && !s.ready);
}

/** Whole-word match of a host/resource name, so "postgresql" matches "postgresql:5432" and
 *  "postgresql.harbor.svc" but not "postgresql-exporter". */
export function mentions(text: string, name: string): boolean {
  const esc = name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`(^|[^A-Za-z0-9-])${esc}($|[^A-Za-z0-9-])`).test(text);
}

export function podMentionsAny(pod: PodInfo, names: string[]): string | undefined {
  for (const c of pod.containers) for (const ref of c.refs) for (const n of names) if (mentions(ref, n)) return n;
  return undefined;
}

export function eventsFor(snapshot: WorkloadSnapshot, namespace: string, kind: string, name: string) {
  return snapshot.events.filter((e) => e.namespace === namespace && e.involvedKind === kind && e.involvedName === name);
}

export function describeCrash(s: ContainerStatusInfo): string {
  const parts = [s.waitingReason ?? (s.ready ? 'running' : 'not ready'), `restarts ${s.restartCount}`];
  if (s.lastTerminated) {
    parts.push(`last exit code ${s.lastTerminated.exitCode ?? '?'}${s.lastTerminated.reason ? ` (${s.lastTerminated.reason})` : ''}`);
  }
  return parts.join(', ');
}

/** Where a container is in its owner's pod template ("spec.template.spec.initContainers[0]"), or in a bare pod's spec. */
export function containerPath(pod: PodInfo, name: string): string {
  const spec: ContainerSpecInfo | undefined = pod.containers.find((c) => c.name === name);
  const list = spec?.list ?? 'containers';
  const index = pod.containers.filter((c) => (c.list ?? 'containers') === list).findIndex((c) => c.name === name);
  return `${pod.owner ? 'spec.template.' : ''}spec.${list}[${index}]`;
}
