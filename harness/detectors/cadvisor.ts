// The kubelet's cAdvisor counters of CPU use and CFS throttling, read through the API server's node proxy
// (/api/v1/nodes/N/proxy/metrics/cadvisor): what `kubectl top` averages away. Parsing is pure and tested on
// fixture text.
import type { KubeConfig } from '@kubernetes/client-node';
import { apiRawGet } from '../cluster/api-raw.js';
import { parseProm, type Sample } from './prom-text.js';

/** One container's cumulative CPU counters as cAdvisor last read its cgroup. */
export interface CpuCounters {
  namespace: string;
  pod: string;
  container: string;
  /** CFS enforcement periods in which the container ran, and those it hit its quota in */
  periods: number;
  throttledPeriods: number;
  /** time the quota held its threads back */
  throttledSeconds: number;
  usageSeconds: number;
  /** when cAdvisor read the cgroup (epoch ms; it reads every 10-15 s, so two scrapes may see one reading) */
  at: number;
  /** when the container started (epoch ms): counters start at zero then */
  startedAt: number;
  /** the CFS period (µs; 100 ms unless the kubelet says otherwise) */
  periodMicros: number;
}

const METRICS = [
  'container_cpu_cfs_periods_total',
  'container_cpu_cfs_throttled_periods_total',
  'container_cpu_cfs_throttled_seconds_total',
  'container_cpu_usage_seconds_total',
  'container_start_time_seconds',
  'container_spec_cpu_period',
];

export const key = (c: { namespace: string; pod: string; container: string }): string => `${c.namespace}/${c.pod}/${c.container}`;

/** The containers with CFS counters (those with a CPU limit) in one scrape; `now` stands in for a missing
 *  timestamp. Pod-level cgroups (container="") and the sandbox (POD) are not containers. */
export function cpuCountersFromText(text: string, now: number): Map<string, CpuCounters> {
  const by = new Map<string, Map<string, Sample>>();
  for (const s of parseProm(text, METRICS)) {
    const { namespace, pod, container } = s.labels;
    if (!namespace || !pod || !container || container === 'POD') continue;
    const k = key({ namespace, pod, container });
    if (!by.has(k)) by.set(k, new Map());
    by.get(k)!.set(s.name, s);
  }
  const out = new Map<string, CpuCounters>();
  for (const [k, m] of by) {
    const periods = m.get('container_cpu_cfs_periods_total');
    const usage = m.get('container_cpu_usage_seconds_total');
    if (!periods || !usage) continue;
    const [namespace, pod, container] = k.split('/') as [string, string, string];
    const start = m.get('container_start_time_seconds')?.value;
    const at = periods.at ?? now;
    out.set(k, {
      namespace,
      pod,
      container,
      periods: periods.value,
      throttledPeriods: m.get('container_cpu_cfs_throttled_periods_total')?.value ?? 0,
      throttledSeconds: m.get('container_cpu_cfs_throttled_seconds_total')?.value ?? 0,
      usageSeconds: usage.value,
      at,
      startedAt: start ? start * 1000 : at,
      periodMicros: m.get('container_spec_cpu_period')?.value || 100_000,
    });
  }
  return out;
}

/** One node's counters through the API server (needs nodes/proxy: the kubelet's own authorization). */
export async function scrapeNodeCpu(kc: KubeConfig, node: string, timeoutMs = 10_000): Promise<Map<string, CpuCounters>> {
  const text = await apiRawGet(kc, `/api/v1/nodes/${encodeURIComponent(node)}/proxy/metrics/cadvisor`, timeoutMs);
  return cpuCountersFromText(text, Date.now());
}
