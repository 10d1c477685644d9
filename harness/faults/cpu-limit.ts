// A CPU limit on a workload's container that its bursts of work exceed: the kubelet turns limits.cpu into the
// container cgroup's CFS quota (cpu.cfs_quota_us per cpu.cfs_period_us), and the kernel stops the container's
// threads for the rest of each period once they have used it. The container's average use can stay far below the
// limit while every burst is throttled. The change is the real one (the pod template's resources, rolled out by
// its controller); revert puts the captured resources back.
import { z } from 'zod';
import type { RunContext } from '../cluster/context.js';
import { unlessNotFound } from '../cluster/kube.js';
import { sameJson } from '../core/json.js';
import { CpuQuantity, readWorkload, setContainerResources, templateContainer, waitRolledOut, WorkloadRef, type ContainerResources, type WorkloadKind } from '../cluster/workloads.js';
import type { Fault } from './types.js';

export const CpuLimitParams = z
  .object({
    namespace: z.string().min(1),
    workload: WorkloadRef,
    container: z.string().min(1),
    /** the limit the fault sets, e.g. 200m */
    limit: CpuQuantity,
    /** the request it sets with it (default: the container's own request, kept) */
    request: CpuQuantity.optional(),
    /** how long apply waits for the controller to roll the change out */
    rolloutSeconds: z.number().int().positive().max(3600).default(180),
  })
  .strict();
export type CpuLimitParams = z.infer<typeof CpuLimitParams>;

export interface CpuLimitRecord {
  namespace: string;
  kind: WorkloadKind;
  name: string;
  container: string;
  /** the container's resources as captured (absent: it had none), and as the fault sets them */
  before?: ContainerResources;
  after: ContainerResources;
  rolloutSeconds: number;
}

function readOptional(ctx: RunContext, r: Pick<CpuLimitRecord, 'kind' | 'namespace' | 'name'>): Promise<Record<string, any> | undefined> {
  return unlessNotFound(readWorkload(ctx, r.kind, r.namespace, r.name));
}

export const cpuLimit: Fault<CpuLimitParams, CpuLimitRecord> = {
  type: 'cpu-limit',
  scope: 'namespace',
  description: "set a CPU limit (the CFS quota) on a workload's container and wait for the rollout",
  paramsSchema: CpuLimitParams,

  async plan(ctx, p) {
    const w = await readOptional(ctx, { kind: p.workload.kind, namespace: p.namespace, name: p.workload.name });
    if (!w) throw new Error(`${p.workload.kind} ${p.namespace}/${p.workload.name} not found`);
    const { resources } = templateContainer(w, p.container);
    const after: ContainerResources = { ...resources, limits: { ...resources?.limits, cpu: p.limit } };
    if (p.request) after.requests = { ...resources?.requests, cpu: p.request };
    return { namespace: p.namespace, kind: p.workload.kind, name: p.workload.name, container: p.container, ...(resources ? { before: resources } : {}), after, rolloutSeconds: p.rolloutSeconds };
  },

  async apply(ctx, _p, r) {
    const w = await readOptional(ctx, r);
    if (!w) throw new Error(`${r.kind} ${r.namespace}/${r.name} not found`);
    const { index, resources } = templateContainer(w, r.container);
    if (!sameJson(resources, r.after)) {
      await setContainerResources(ctx, r, index, r.after);
      ctx.log(`set limits.cpu ${r.after.limits?.cpu} on container ${r.container} of ${r.kind} ${r.namespace}/${r.name}`);
    }
    await waitRolledOut(ctx, r.kind, r.namespace, r.name, r.rolloutSeconds * 1000);
  },

  async revert(ctx, r) {
    const w = await readOptional(ctx, r);
    if (!w) return ctx.log(`${r.kind} ${r.namespace}/${r.name} is gone; nothing to revert`);
    const { index, resources } = templateContainer(w, r.container);
    if (sameJson(resources, r.before)) return ctx.log(`resources of ${r.container} in ${r.kind} ${r.namespace}/${r.name} already as captured`);
    if (!sameJson(resources, r.after)) {
      // a runbook (or a person) already changed them: keep their fix rather than undo it
      return ctx.log(`resources of ${r.container} in ${r.kind} ${r.namespace}/${r.name} were changed after the fault; leaving them`);
    }
    await setContainerResources(ctx, r, index, r.before);
    ctx.log(`restored the resources of container ${r.container} in ${r.kind} ${r.namespace}/${r.name}`);
    await waitRolledOut(ctx, r.kind, r.namespace, r.name, r.rolloutSeconds * 1000);
  },

  describe(r) {
    return `${r.kind} ${r.namespace}/${r.name}: container ${r.container}'s resources put back as captured (limits.cpu ${r.before?.limits?.cpu ?? 'none'})`;
  },
};
