// CFS throttling of containers whose CPU limit their bursts hit, told apart from a container that simply needs
// more CPU: pure functions over cAdvisor counters and pod specs, tested on fixtures.
import { resourceId, type Finding } from './types.js';
import type { CpuCounters } from './cadvisor.js';

/** The share of CFS periods throttled above which kubernetes-mixin's CPUThrottlingHigh fires (25 %). */
export const THROTTLED_SHARE = 0.25;
/** Fewer periods than this in a window is too little running to judge (an idle container's few wake-ups). */
export const MIN_PERIODS = 20;
/** Average use below this share of the limit while throttled: the bursts, not the average, meet the quota. */
export const LOW_AVERAGE = 0.5;

/** What the counters say over one window. */
export interface CpuWindow {
  seconds: number;
  /** no earlier reading of this container: the window is its whole life so far */
  sinceStart: boolean;
  periods: number;
  throttledPeriods: number;
  throttledSeconds: number;
  usageSeconds: number;
}

/** From an earlier reading of the same container to a later one; without one (or across a restart, or when
 *  cAdvisor has not read the cgroup again), since the container started. */
export function windowBetween(earlier: CpuCounters | undefined, later: CpuCounters): CpuWindow {
  if (earlier && earlier.startedAt === later.startedAt && later.at > earlier.at && later.periods >= earlier.periods) {
    return {
      seconds: (later.at - earlier.at) / 1000,
      sinceStart: false,
      periods: later.periods - earlier.periods,
      throttledPeriods: later.throttledPeriods - earlier.throttledPeriods,
      throttledSeconds: later.throttledSeconds - earlier.throttledSeconds,
      usageSeconds: later.usageSeconds - earlier.usageSeconds,
    };
  }
  const { periods, throttledPeriods, throttledSeconds, usageSeconds } = later;
  return { seconds: Math.max(0, (later.at - later.startedAt) / 1000), sinceStart: true, periods, throttledPeriods, throttledSeconds, usageSeconds };
}

/** A running container with a CPU limit, its pod's spec facts and (when cAdvisor had it) its window. */
export interface ContainerCpu {
  namespace: string;
  pod: string;
  container: string;
  node: string;
  /** the controller: a Deployment (through its ReplicaSet), StatefulSet or DaemonSet; else the pod itself */
  owner: { kind: string; name: string };
  qosClass: string;
  limitMillis: number;
  requestMillis?: number;
  periodMicros?: number;
  window?: CpuWindow;
}

export interface CpuThrottlingSnapshot {
  containers: ContainerCpu[];
  /** nodes whose cAdvisor could not be read, with why (their containers have no window) */
  unreadable: string[];
}

/** "200m", "1", "1.5", "250000u", "0.5" → millicores; undefined when it is not a CPU quantity. */
export function cpuMillis(q: string | undefined): number | undefined {
  const m = /^(\d+(?:\.\d+)?|\.\d+)(m|u|n)?$/.exec(String(q ?? '').trim());
  if (!m) return undefined;
  const v = Number(m[1]);
  return m[2] === 'm' ? v : m[2] === 'u' ? v / 1000 : m[2] === 'n' ? v / 1e6 : v * 1000;
}

const millis = (m: number): string => (m >= 1000 && m % 1000 === 0 ? String(m / 1000) : `${Math.round(m)}m`);
const pct = (x: number): string => `${Math.round(x * 100)}%`;
const secs = (s: number): string => (s >= 10 ? `${Math.round(s)} s` : `${s.toFixed(1)} s`);

interface Group {
  namespace: string;
  owner: { kind: string; name: string };
  container: string;
  members: Array<ContainerCpu & { window: CpuWindow }>;
}

function groups(containers: ContainerCpu[]): Group[] {
  const by = new Map<string, Group>();
  for (const c of containers) {
    if (!c.window) continue;
    const k = `${c.namespace}/${c.owner.kind}/${c.owner.name}/${c.container}`;
    if (!by.has(k)) by.set(k, { namespace: c.namespace, owner: c.owner, container: c.container, members: [] });
    by.get(k)!.members.push(c as ContainerCpu & { window: CpuWindow });
  }
  return [...by.values()];
}

function finding(g: Group): Finding | undefined {
  const sum = (f: (w: CpuWindow) => number) => g.members.reduce((a, c) => a + f(c.window), 0);
  const periods = sum((w) => w.periods);
  const throttled = sum((w) => w.throttledPeriods);
  if (periods < MIN_PERIODS || throttled / periods < THROTTLED_SHARE) return undefined;
  const share = throttled / periods;
  const first = g.members[0]!;
  const limit = first.limitMillis;
  // per pod: use over its window, averaged over the pods
  const avgMillis = g.members.reduce((a, c) => a + (c.window.seconds > 0 ? (c.window.usageSeconds / c.window.seconds) * 1000 : 0), 0) / g.members.length;
  const heldBack = sum((w) => w.throttledSeconds);
  const seconds = Math.max(...g.members.map((c) => c.window.seconds));
  const span = first.window.sinceStart ? `since the container started ${secs(seconds)} ago` : `over the last ${secs(seconds)}`;
  const periodMs = (first.periodMicros ?? 100_000) / 1000;
  const quotaMs = (limit / 1000) * periodMs;
  const low = avgMillis < LOW_AVERAGE * limit;
  const what = `${g.owner.kind} ${g.namespace}/${g.owner.name} container ${g.container}`;
  const request = first.requestMillis !== undefined ? `requests.cpu ${millis(first.requestMillis)}` : 'no requests.cpu';
  const qos = `QoS class ${first.qosClass}: ${request}, limits.cpu ${millis(limit)}`;
  return {
    detector: 'cpu-throttling',
    severity: 'warning',
    summary: `${what} is CPU-throttled in ${pct(share)} of its CFS periods while it averages ${millis(avgMillis)}, ${pct(avgMillis / limit)} of its ${millis(limit)} limit`,
    rootCause: low
      ? `its bursts of CPU use exceed the CFS quota of limits.cpu ${millis(limit)} (${quotaMs.toFixed(quotaMs < 10 ? 1 : 0)} ms of CPU per ${periodMs} ms period): ` +
        `the kernel stops its threads until the next period within each burst, which adds latency, and an average over seconds (kubectl top) hides it; ${qos}`
      : `it needs more CPU than limits.cpu ${millis(limit)} allows: it averages ${millis(avgMillis)} and is held back whenever it runs; ${qos}`,
    evidence: [
      `container_cpu_cfs_throttled_periods_total / container_cpu_cfs_periods_total: ${throttled} of ${periods} periods throttled (${pct(share)}) ${span}`,
      `container_cpu_cfs_throttled_seconds_total: the quota held its threads back ${secs(heldBack)} in all`,
      `container_cpu_usage_seconds_total: an average of ${millis(avgMillis)} (${pct(avgMillis / limit)} of limits.cpu ${millis(limit)})`,
      qos,
      `pods: ${g.members.map((c) => `${c.pod} on ${c.node}`).join(', ')}`,
    ],
    runbook: 'cpu-throttling',
    resources: [resourceId(g.namespace, g.owner.kind, g.owner.name), ...g.members.map((c) => resourceId(c.namespace, 'Pod', c.pod))],
  };
}

/** One finding per controller and container whose pods are throttled in ≥ THROTTLED_SHARE of their periods. */
export function analyzeCpuThrottling(s: CpuThrottlingSnapshot): Finding[] {
  return groups(s.containers ?? []).flatMap((g) => finding(g) ?? []);
}
