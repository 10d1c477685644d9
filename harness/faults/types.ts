import type { ZodType } from 'zod';
import type { RunContext } from '../cluster/context.js';

/** A fault is split so the engine can journal the undo record (fsync'd) after plan() and before apply(). */
export interface Fault<P = unknown, R = unknown> {
  type: string;
  description: string;
  paramsSchema: ZodType<P>;
  /** 'namespace' when apply() changes only objects in the namespace its params name (params.namespace), so a
   *  scenario in another namespace may run alongside it; absent: the change reaches past one namespace (nodes,
   *  cluster-scoped objects, the control plane) */
  scope?: 'namespace';
  /** read-only: captures everything needed to undo the change */
  plan(ctx: RunContext, params: P): Promise<R>;
  /** the change itself; idempotent */
  apply(ctx: RunContext, params: P, record: R): Promise<void>;
  /** idempotent; safe to call twice, after a partial apply, or after a runbook already fixed things */
  revert(ctx: RunContext, record: R): Promise<void>;
  /** one line saying what revert() would undo, for `faultline recover` */
  describe(record: R): string;
  /** one line for the report saying what apply() made, where the report must name it (the node agents) */
  made?(record: R): string;
}

// registries hold faults of different param/record types
export type AnyFault = Fault<any, any>;
