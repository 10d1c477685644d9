// cpu-throttling: a container whose bursts of CPU use hit the CFS quota of its limit, so its latency suffers while
// its average use looks low. The fix the troubleshooting guide gives: raise limits.cpu (or set requests equal to
// limits for Guaranteed QoS). Verify puts bursty traffic on the service and reads the throttling it causes: the
// share of throttled periods below a threshold, and the p99 latency k6 sees within its budget.
import { z } from 'zod';
import type { RunContext } from '../cluster/context.js';
import { CpuQuantity, readiness, readWorkload, setContainerResources, templateContainer, waitRolledOut, WorkloadRef, type WorkloadKind } from '../cluster/workloads.js';
import { key, type CpuCounters } from '../detectors/cadvisor.js';
import { windowBetween, type CpuWindow } from '../detectors/cpu-throttling-analysis.js';
import { readLimitedContainers } from '../detectors/cpu-throttling.js';
import type { Finding } from '../detectors/types.js';
import { K6BurstsParams, runBursts } from '../load/k6-bursts.js';
import { sleep } from '../core/poll.js';
import { parseResource, type Diagnosis, type Runbook, type VerifyResult } from './types.js';

export const VerifyParams = z
  .object({
    namespace: z.string().min(1),
    workload: WorkloadRef,
    container: z.string().min(1),
    /** the limit remediate sets */
    limit: CpuQuantity,
    /** also set requests equal to limits (cpu, and memory where it has a limit): Guaranteed QoS */
    guaranteed: z.boolean().default(false),
    /** the traffic verify puts on the service while it reads the throttling */
    load: K6BurstsParams,
    loadSeconds: z.number().int().min(5).max(300).default(15),
    /** k6's p99 must be within this */
    p99BudgetMs: z.number().positive(),
    /** the share of CFS periods that may still be throttled */
    maxThrottledShare: z.number().min(0).max(1).default(0.1),
  })
  .strict();
type VerifyParams = z.infer<typeof VerifyParams>;

/** How long verify waits after its traffic for cAdvisor to read the cgroups again (it reads every 10-15 s). */
const READ_AGAIN_MS = 30_000;

type Owner = { kind: string; name: string };

async function readOwned(ctx: RunContext, p: VerifyParams): Promise<Awaited<ReturnType<typeof readLimitedContainers>>> {
  const scoped = { ...ctx, namespaces: [p.namespace] };
  return readLimitedContainers(scoped, (c) => c.owner.kind === p.workload.kind && c.owner.name === p.workload.name && c.container === p.container);
}

/** Readings taken after `after` (epoch ms) for every container in `want`, polled until cAdvisor has them. */
async function readingsAfter(ctx: RunContext, p: VerifyParams, want: string[], after: number): Promise<Map<string, CpuCounters>> {
  const until = Date.now() + READ_AGAIN_MS;
  for (;;) {
    const { counters } = await readOwned(ctx, p);
    if (want.every((k) => (counters.get(k)?.at ?? 0) > after) || Date.now() > until) return counters;
    // cAdvisor refreshes the counters every few seconds: a look every 2 s sees the refresh soon after it
    await sleep(2_000, ctx.signal);
  }
}

export const cpuThrottlingRunbook: Runbook = {
  id: 'cpu-throttling',
  scope: 'namespace',
  title: "A container's CPU limit throttles its bursts while its average use stays low",
  verifyParams: VerifyParams,

  async diagnose(_ctx, finding: Finding): Promise<Diagnosis> {
    const owner = parseResource(finding.resources[0] ?? '');
    const container = /container (\S+) is CPU-throttled/.exec(finding.summary)?.[1];
    return {
      runbook: 'cpu-throttling',
      summary: `${owner.kind} ${owner.namespace}/${owner.name}${container ? ` container ${container}` : ''}: its CPU limit's CFS quota throttles it`,
      details: [finding.summary, finding.rootCause, ...finding.evidence],
      data: { owner: { kind: owner.kind, name: owner.name }, namespace: owner.namespace, container },
    };
  },

  async remediate(ctx, d, raw) {
    const { owner, namespace, container } = d.data as { owner: Owner; namespace: string; container?: string };
    const p = VerifyParams.safeParse(raw);
    const manual = `raise limits.cpu of container ${container ?? '<container>'} in ${owner.kind} ${namespace}/${owner.name} above its bursts (or set requests.cpu equal to limits.cpu for Guaranteed QoS), then watch container_cpu_cfs_throttled_periods_total and the p99 latency`;
    // only the workload and container the diagnosis names, with a limit the caller chose, is changed
    if (!p.success || p.data.workload.kind !== owner.kind || p.data.workload.name !== owner.name || p.data.namespace !== namespace || p.data.container !== container) return { mode: 'manual', actions: [manual] };
    const kind = owner.kind as WorkloadKind;
    const w = await readWorkload(ctx, kind, namespace, owner.name);
    const { index, resources } = templateContainer(w, p.data.container);
    const limits: Record<string, string> = { ...resources?.limits, cpu: p.data.limit };
    const requests = p.data.guaranteed ? { ...resources?.requests, cpu: p.data.limit, ...(limits.memory ? { memory: limits.memory } : {}) } : resources?.requests;
    await setContainerResources(ctx, { kind, namespace, name: owner.name, container: p.data.container }, index, { ...resources, limits, ...(requests ? { requests } : {}) });
    const actions = [`set limits.cpu ${p.data.limit}${p.data.guaranteed ? ' and requests equal to limits (Guaranteed QoS)' : ''} on container ${p.data.container} of ${kind} ${namespace}/${owner.name} (was ${resources?.limits?.cpu ?? 'none'})`];
    await waitRolledOut(ctx, kind, namespace, owner.name, 180_000);
    actions.push(`${kind} ${namespace}/${owner.name} rolled out`);
    return { mode: 'automatic', actions };
  },

  async verify(ctx, raw): Promise<VerifyResult> {
    const p = VerifyParams.parse(raw);
    const ready = readiness(await readWorkload(ctx, p.workload.kind, p.namespace, p.workload.name));
    const what = `${p.workload.kind} ${p.namespace}/${p.workload.name}`;
    if (!ready.ready) return { ok: false, details: [`${what}: not rolled out (${ready.detail})`] };
    const before = await readOwned(ctx, p);
    const want = before.containers.map(key);
    const startedAt = Date.now();
    const load = await runBursts(ctx, p.load, { phase: 'after', seconds: p.loadSeconds, namespace: p.namespace, signal: ctx.signal ?? new AbortController().signal });
    const after = await readingsAfter(ctx, p, want, startedAt + p.loadSeconds * 1000);
    const windows = before.containers.flatMap((c): CpuWindow[] => {
      const later = after.get(key(c));
      return later ? [windowBetween(before.counters.get(key(c)), later)] : [];
    });
    const periods = windows.reduce((a, w) => a + w.periods, 0);
    const throttled = windows.reduce((a, w) => a + w.throttledPeriods, 0);
    const share = periods ? throttled / periods : 0;
    // no container with a CPU limit left: no CFS quota, nothing can throttle it
    const measured = before.containers.length === 0 || windows.length === before.containers.length;
    const p99 = load.latencyMs?.p99;
    const ok = measured && share <= p.maxThrottledShare && p99 !== undefined && p99 <= p.p99BudgetMs && load.failed === 0;
    return {
      ok,
      details: [
        `${what}: ${ready.detail}`,
        before.containers.length === 0
          ? `container ${p.container} has no CPU limit: no CFS quota to throttle it`
          : measured
            ? `under ${p.load.burst} requests every ${p.load.intervalMs} ms: ${throttled} of ${periods} CFS periods throttled (${Math.round(share * 100)}%, at most ${Math.round(p.maxThrottledShare * 100)}% allowed)`
            : `cAdvisor has no reading of ${want.length - windows.length} of the container(s) yet`,
        `k6: ${load.requests} request(s), ${load.failed} failed, p99 ${p99 === undefined ? 'not measured' : `${Math.round(p99)} ms`} (budget ${p.p99BudgetMs} ms)`,
      ],
      ...(ok ? { healthySince: startedAt } : {}),
    };
  },

  markdown() {
    return MARKDOWN;
  },
};

const MARKDOWN = `# Runbook: CPU throttling while the average use is low

**Signature.** A latency-sensitive service has p99 latency spikes, while \`kubectl top\` shows it using a fraction
of its CPU limit and its node is not busy. The kubelet's cAdvisor counters show the container throttled:
\`container_cpu_cfs_throttled_periods_total\` grows in a large share of \`container_cpu_cfs_periods_total\`.

**Why.** \`limits.cpu\` becomes the container cgroup's CFS quota: 200m is 20 ms of CPU per 100 ms period, shared
by all its threads. A burst that needs more than that in one period stops until the next one, so a request that
needs 60 ms of CPU takes 300 ms. Averages over seconds never show it; the throttled-periods counter does.

**Steps.**
1. Read the counters for the container (faultline's \`cpu-throttling\` detector, or the kubelet's
   \`/metrics/cadvisor\` through \`kubectl get --raw /api/v1/nodes/<node>/proxy/metrics/cadvisor\`): the throttled
   share over a window, and the average use against the limit.
2. Check the QoS class and the requests: \`requests.cpu\` far below \`limits.cpu\` is Burstable.
3. Raise \`limits.cpu\` above what a burst needs in one period (or remove the CPU limit where the team's policy
   allows), or set \`requests.cpu\` equal to \`limits.cpu\` (and memory) for Guaranteed QoS; on nodes with the
   kubelet's static CPU manager, Guaranteed pods with whole CPUs get cores of their own.
4. Verify under the same kind of traffic: the throttled share drops and the p99 latency is back within budget.

**faultline automates** steps 1-4 when the scenario names the workload, container and new limit: it patches the
pod template, waits for the rollout, then sends bursts with k6 while it reads the counters again.
`;
