// Which clusters are faultline's. A record in clusters.json is only a claim: it counts when its provider still
// lists the cluster and its kubeconfig is one faultline wrote under its state directory, so a hand-edited or
// stale record cannot make a user's cluster injectable. Creating goes through here too: a name that exists
// already is refused, and a failed create leaves neither a partial cluster nor a record behind.
import { existsSync, realpathSync, rmSync } from 'node:fs';
import { dirname, isAbsolute, join, relative } from 'node:path';
import { errorMessage } from '../core/errors.js';
import { acquireLock, type Lock } from '../core/lock.js';
import { stateDir } from '../core/paths.js';
import { kubeconfigPathFor } from './naming.js';
import { findClusterRecord, forgetCluster, readClusterRecords, recordCluster, type ClusterRecord } from './records.js';
import type { ClusterRef, ProviderKind } from './types.js';

/** The part of a provider that tells which clusters exist (kind get clusters, k3d cluster list). */
export interface ClusterLister {
  readonly kind: ProviderKind;
  list(): Promise<string[]>;
}

function under(dir: string, path: string): boolean {
  const rel = relative(dir, path);
  return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel);
}

/** Why a record is not to be trusted, or undefined when it is. */
export async function recordDistrust(rec: ClusterRecord, provider: ClusterLister): Promise<string | undefined> {
  if (rec.provider !== provider.kind) return `its provider is ${rec.provider}, not ${provider.kind}`;
  const expected = kubeconfigPathFor(rec.provider, rec.name);
  const dir = dirname(expected);
  if (!existsSync(rec.kubeconfigPath)) return `its kubeconfig ${rec.kubeconfigPath} does not exist`;
  if (!existsSync(dir) || !under(realpathSync(dir), realpathSync(rec.kubeconfigPath))) {
    return `its kubeconfig ${rec.kubeconfigPath} is not one faultline wrote (they live under ${dir})`;
  }
  let names: string[];
  try {
    names = await provider.list();
  } catch (err) {
    return `${provider.kind} cannot list its clusters: ${errorMessage(err)}`;
  }
  if (!names.includes(rec.name)) return `${provider.kind} has no cluster named ${rec.name}`;
  return undefined;
}

/** The record of a cluster faultline made, verified; with the reason when there is a record but it fails. */
export async function verifiedRecord(
  match: { name?: string; context?: string; provider?: ProviderKind },
  listerFor: (kind: ProviderKind) => ClusterLister,
): Promise<{ record?: ClusterRecord; distrust?: string }> {
  const rec = match.name
    ? findClusterRecord(match.name, match.provider)
    : readClusterRecords().find((r) => r.context === match.context && (!match.provider || r.provider === match.provider));
  if (!rec) return {};
  const why = await recordDistrust(rec, listerFor(rec.provider));
  return why ? { distrust: `the record of cluster ${rec.name} is not trusted: ${why}` } : { record: rec };
}

export class ClusterNameTaken extends Error {
  constructor(
    readonly clusterName: string,
    readonly ours: boolean,
  ) {
    super(
      ours
        ? `cluster ${clusterName} already exists (faultline made it)`
        : `a cluster named ${clusterName} already exists and faultline did not create it`,
    );
    this.name = 'ClusterNameTaken';
  }
}

/** Creates a cluster as faultline's own: refuses a name in use, records it before the create (a create killed
 *  half-way stays known to `cluster down`), and on a failed create deletes what it left and forgets it. */
export async function createOwned(
  provider: ClusterLister & { delete(name: string): Promise<void> },
  ref: ClusterRef,
  create: () => Promise<void>,
  log: (msg: string) => void = () => {},
): Promise<void> {
  const existing = await provider.list();
  if (existing.includes(ref.name)) {
    const rec = findClusterRecord(ref.name, provider.kind);
    throw new ClusterNameTaken(ref.name, !!rec && !(await recordDistrust(rec, provider)));
  }
  recordCluster(ref);
  try {
    await create();
  } catch (err) {
    // the name was free before: whatever exists under it now is this create's leftover
    const left = await provider.list().catch(() => [ref.name]);
    if (left.includes(ref.name)) {
      await provider.delete(ref.name).catch((e: unknown) => log(`could not delete the partial cluster ${ref.name}: ${errorMessage(e)}`));
    }
    forgetOwned(provider.kind, ref.name);
    throw err;
  }
}

/** Forgets a cluster and removes the kubeconfig (client key included) faultline wrote for it. */
export function forgetOwned(kind: ProviderKind, name: string): void {
  forgetCluster(kind, name);
  rmSync(kubeconfigPathFor(kind, name), { force: true });
}

/** One process at a time changes a cluster: a run, an inject or a recover. Throws LockHeld naming the holder. */
export function lockCluster(ref: Pick<ClusterRef, 'provider' | 'name' | 'context'>, command: string): Lock {
  const key = ref.provider === 'existing' ? `context-${ref.context}` : `${ref.provider}-${ref.name}`;
  return acquireLock(join(stateDir(), 'locks', `${key.replace(/[^A-Za-z0-9._-]/g, '_')}.lock`), command);
}
