import type { ZodType } from 'zod';
import type { RunContext } from '../cluster/context.js';

export interface IntegrityResult {
  check: string;
  phase: 'write' | 'check';
  ok: boolean;
  details: string;
}

/** Proves data survives: write() leaves a marker before the fault, check() finds it after the runbook. */
export interface IntegrityCheck<P = unknown> {
  id: string;
  description: string;
  paramsSchema: ZodType<P>;
  write(ctx: RunContext, params: P): Promise<IntegrityResult>;
  check(ctx: RunContext, params: P): Promise<IntegrityResult>;
}

// registries hold checks of different param types
export type AnyIntegrityCheck = IntegrityCheck<any>;
