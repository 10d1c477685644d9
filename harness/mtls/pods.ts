// Pods of a mutual-TLS workload: which Secrets they mount, and restarting them one at a time (delete, wait for
// the owner's replacement to be Ready, next), which is how a pod picks up a Secret it reads only at start.
import type { CoreV1Api, V1Pod } from '@kubernetes/client-node';
import { isNotFound } from '../cluster/kube.js';
import { pollUntil } from '../core/poll.js';

export function podReady(p: V1Pod): boolean {
  return !p.metadata?.deletionTimestamp && p.status?.phase === 'Running' && (p.status.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
}

/** Secret names a pod mounts as volumes (plain or projected). */
export function mountedSecrets(p: V1Pod): string[] {
  const out = new Set<string>();
  for (const v of p.spec?.volumes ?? []) {
    if (v.secret?.secretName) out.add(v.secret.secretName);
    for (const s of v.projected?.sources ?? []) if (s.secret?.name) out.add(s.secret.name);
  }
  return [...out];
}

export function ownerKey(p: V1Pod): string | undefined {
  const o = p.metadata?.ownerReferences?.find((r) => r.controller);
  return o ? `${o.kind}/${o.name}` : undefined;
}

/** Deletes one pod and waits until its owner has as many Ready pods as before, none of them the old one. */
/** how long a restart may wait for its replacement to be Ready when the caller has no deadline of its own
 *  (`faultline recover`) */
export const RESTART_TIMEOUT_MS = 5 * 60_000;

export async function restartPod(core: CoreV1Api, namespace: string, name: string, opts: { signal: AbortSignal; progress?(m: string): void; intervalMs?: number }): Promise<string> {
  let pod: V1Pod;
  try {
    pod = await core.readNamespacedPod({ name, namespace });
  } catch (err) {
    if (isNotFound(err)) return `pod ${namespace}/${name} already gone`;
    throw err;
  }
  const owner = ownerKey(pod);
  const sameOwner = async () => (await core.listNamespacedPod({ namespace })).items.filter((p) => ownerKey(p) === owner && owner !== undefined);
  const siblings = await sameOwner();
  const readyBefore = siblings.filter(podReady).length;
  const known = new Set(siblings.map((p) => p.metadata?.uid));
  await core.deleteNamespacedPod({ name, namespace, gracePeriodSeconds: 2 });
  if (!owner) return `deleted pod ${namespace}/${name} (no controller to replace it)`;
  const fresh = await pollUntil(
    async () => {
      const pods = await sameOwner();
      const ready = pods.filter((p) => podReady(p) && p.metadata?.name !== name);
      if (ready.length >= readyBefore && !pods.some((p) => p.metadata?.name === name)) return ready;
      opts.progress?.(`waiting for ${owner} to replace ${name}: ${ready.length}/${readyBefore} ready`);
      return undefined;
    },
    { intervalMs: opts.intervalMs ?? 1_000, signal: opts.signal },
  );
  const newest = fresh.filter((p) => !known.has(p.metadata?.uid)).map((p) => p.metadata?.name);
  return `restarted ${namespace}/${name} (${owner} ready again${newest.length ? `, new pod ${newest.at(-1)}` : ''})`;
}
