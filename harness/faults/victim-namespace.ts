// The victim's namespace, when a run creates it: a change to the cluster like any set-up, so it is journaled
// before it exists and `faultline recover` deletes it after a killed run. Only a namespace labelled as faultline's
// and annotated with the run that made it is ever deleted.
import { z } from 'zod';
import { isNotFound } from '../cluster/kube.js';
import { isManaged, MANAGED_BY } from '../core/labels.js';
import { sleep } from '../core/poll.js';
import type { Fault } from './types.js';

export const RUN_ID_ANNOTATION = 'faultline/run-id';

const Params = z.object({ namespace: z.string().min(1) }).strict();
type Params = z.infer<typeof Params>;

export interface VictimNamespaceRecord {
  namespace: string;
  runId: string;
}

/** A namespace a run makes: labelled as faultline's and annotated with the run, which is what revert checks. */
export function runNamespaceBody(namespace: string, runId: string, labels: Record<string, string> = {}) {
  return { metadata: { name: namespace, labels: { [MANAGED_BY.key]: MANAGED_BY.value, ...labels }, annotations: { [RUN_ID_ANNOTATION]: runId } } };
}

/** How long a revert waits for the namespace to be gone (its pods terminate first). */
const GONE_WITHIN_MS = 180_000;

export const victimNamespace: Fault<Params, VictimNamespaceRecord> = {
  type: 'victim-namespace',
  description: "create the victim's namespace, labelled as faultline's and annotated with the run id",
  paramsSchema: Params,

  async plan(ctx, p) {
    return { namespace: p.namespace, runId: ctx.runId };
  },

  async apply(ctx, _p, r) {
    await ctx.kube.core.createNamespace({ body: runNamespaceBody(r.namespace, r.runId) });
  },

  async revert(ctx, r) {
    // the API server may be restarting (a control-plane fault reverted just before): its errors are retried
    const until = Date.now() + GONE_WITHIN_MS;
    let asked = false;
    for (;;) {
      try {
        const ns = await ctx.kube.core.readNamespace({ name: r.namespace });
        if (!isManaged(ns) || ns.metadata?.annotations?.[RUN_ID_ANNOTATION] !== r.runId) {
          ctx.log(`namespace ${r.namespace} is not the one run ${r.runId} made; left in place`);
          return;
        }
        if (!ns.metadata?.deletionTimestamp && !asked) await ctx.kube.core.deleteNamespace({ name: r.namespace });
        asked = true;
      } catch (err) {
        if (isNotFound(err)) return;
        if (Date.now() > until) throw err;
        ctx.log(`namespace ${r.namespace}: ${(err as Error).message}; retrying`);
      }
      if (Date.now() > until) throw new Error(`namespace ${r.namespace} still there after ${GONE_WITHIN_MS / 1000}s`);
      // a namespace takes seconds to finalize its contents: one look every 2 s
      await sleep(2_000, ctx.signal);
    }
  },

  describe(r) {
    return `namespace ${r.namespace}, made by run ${r.runId}, deleted`;
  },
};
