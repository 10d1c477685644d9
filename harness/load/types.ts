import type { ZodType } from 'zod';
import type { RunContext } from '../cluster/context.js';

export type LoadPhase = 'before' | 'during' | 'after';

/** What one probe run measured; no key material, no Secret values. */
export interface LoadResult {
  probe: string;
  phase: LoadPhase;
  target: string;
  startedAt: string;
  seconds: number;
  requests: number;
  failed: number;
  /** failed / requests, 0..1 */
  failureRate: number;
  /** a few distinct failures as the client saw them (status and error text) */
  errors: string[];
  /** request duration percentiles (ms), where the probe measures them */
  latencyMs?: { p50: number; p90: number; p99: number; max: number };
}

export interface LoadRun {
  phase: LoadPhase;
  seconds: number;
  /** the scenario folder, for scripts named relative to it */
  scenarioDir: string;
  namespace: string;
  signal: AbortSignal;
}

/** Traffic against the victim while the scenario runs: before the fault, during detection and after the fix. */
export interface LoadProbe<P = unknown> {
  id: string;
  description: string;
  paramsSchema: ZodType<P>;
  run(ctx: RunContext, params: P, run: LoadRun): Promise<LoadResult>;
}

// registries hold probes of different param types
export type AnyLoadProbe = LoadProbe<any>;
