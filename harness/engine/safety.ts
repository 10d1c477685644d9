// Injection goes only into clusters this tool created, or into contexts the user allowed by name.
import { findClusterRecord, isFaultlineContext } from '../cluster/records.js';
import type { ClusterRef } from '../cluster/types.js';
import { UserError } from '../core/errors.js';

export function injectionAllowed(ref: ClusterRef, allowContexts: string[]): { ok: boolean; why: string } {
  if (allowContexts.includes(ref.context)) return { ok: true, why: `context ${ref.context} allowed with --allow-context` };
  if (ref.createdByFaultline && findClusterRecord(ref.name, ref.provider)) return { ok: true, why: `cluster ${ref.name} was created by faultline` };
  if (isFaultlineContext(ref.context)) return { ok: true, why: `context ${ref.context} belongs to a faultline cluster` };
  return { ok: false, why: `context ${ref.context} was not created by faultline` };
}

export function assertInjectionAllowed(ref: ClusterRef, allowContexts: string[]): void {
  const res = injectionAllowed(ref, allowContexts);
  if (!res.ok) {
    throw new UserError(
      `refusing to inject into context "${ref.context}": it was not created by faultline`,
      `pass --allow-context ${ref.context} if this cluster is meant for fault injection`,
    );
  }
}
