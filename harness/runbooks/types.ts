import type { ZodType } from 'zod';
import type { RunContext } from '../cluster/context.js';
import type { Finding } from '../detectors/types.js';

export interface Diagnosis {
  runbook: string;
  summary: string;
  details: string[];
  /** what remediate() needs, runbook-specific; never holds Secret values */
  data: Record<string, unknown>;
}

export interface RemediationResult {
  /** "manual": the runbook knows no safe automatic fix; actions then tell a person what to do */
  mode: 'automatic' | 'manual';
  actions: string[];
}

export interface VerifyResult {
  ok: boolean;
  details: string[];
  /** when ok after a window that confirms health (no restart for 60 s, a fresh latency window): when that window
   *  began (epoch ms). The cluster was healthy from then; TTR counts to it, not to the window's end */
  healthySince?: number;
}

export interface Runbook {
  id: string;
  title: string;
  /** the params verify() takes (the scenario's runbook.params, with the victim's namespace); checked when a
   *  scenario loads, so a typo is bad input before any cluster exists, not a failure after the fault is in */
  verifyParams: ZodType;
  /** 'namespace' when remediate() changes only objects in the finding's namespace (see Fault.scope) */
  scope?: 'namespace';
  diagnose(ctx: RunContext, finding: Finding): Promise<Diagnosis>;
  /** params: the scenario's runbook params (the same verify gets), e.g. the level a namespace was meant to enforce */
  remediate(ctx: RunContext, diagnosis: Diagnosis, params?: Record<string, unknown>): Promise<RemediationResult>;
  verify(ctx: RunContext, params: Record<string, unknown>): Promise<VerifyResult>;
  markdown(): string;
}

/** Splits "ns/Kind/name" back into its parts. */
export function parseResource(id: string): { namespace: string; kind: string; name: string } {
  const [namespace = '', kind = '', ...rest] = id.split('/');
  return { namespace, kind, name: rest.join('/') };
}
