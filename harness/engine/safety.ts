// Injection goes only into clusters this tool created (a record its provider confirms), or into contexts the
// user allowed by name. Recover asks the same before it reverts anything.
import { verifiedRecord, type ClusterLister } from '../cluster/ownership.js';
import { makeProvider } from '../cluster/registry.js';
import type { ClusterRef, ProviderKind } from '../cluster/types.js';
import { UserError } from '../core/errors.js';
import type { AllowedBy } from './journal.js';

export interface Allowance {
  ok: boolean;
  why: string;
  by?: AllowedBy;
}

export type ListerFor = (kind: ProviderKind) => ClusterLister;

export async function injectionAllowed(ref: ClusterRef, allowContexts: string[], listerFor: ListerFor = makeProvider): Promise<Allowance> {
  if (allowContexts.includes(ref.context)) return { ok: true, why: `context ${ref.context} allowed with --allow-context`, by: 'allow-context' };
  const { record, distrust } = await verifiedRecord({ context: ref.context }, listerFor);
  if (record) return { ok: true, why: `cluster ${record.name} was created by faultline`, by: 'record' };
  return { ok: false, why: distrust ?? `context ${ref.context} was not created by faultline` };
}

/** How injection is allowed, or bad input naming the context and the flag that would allow it. */
export async function assertInjectionAllowed(ref: ClusterRef, allowContexts: string[], listerFor?: ListerFor): Promise<AllowedBy> {
  const res = await injectionAllowed(ref, allowContexts, listerFor);
  if (!res.ok) {
    throw new UserError(
      `refusing to inject into context "${ref.context}": ${res.why}`,
      `pass --allow-context ${ref.context} if this cluster is meant for fault injection`,
    );
  }
  return res.by!;
}
