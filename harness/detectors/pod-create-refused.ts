// pod-create-refused: controllers whose pods admission refuses. Reads FailedCreate events, the controllers that are
// short of pods, namespaces' labels, and (with node access) the API server's PodSecurity defaults on each
// control-plane node, from its --admission-control-config-file.
import { parseDocument } from 'yaml';
import type { KubeContext } from '../cluster/context.js';
import { controlPlaneNodes, nodeAccess, type NodeAccess } from '../cluster/node-access.js';
import { readNodeFile } from '../cluster/node-files.js';
import { analyzePodCreate, type PodCreateSnapshot, type PodSecurityDefault, type WorkloadShort } from './pod-create-analysis.js';
import { recentEvents } from './snapshot.js';
import type { Detector } from './types.js';

const APISERVER_MANIFEST = '/etc/kubernetes/manifests/kube-apiserver.yaml';

type Obj = { metadata?: { namespace?: string; name?: string; ownerReferences?: Array<{ kind: string; name: string; controller?: boolean }> }; spec?: any; status?: any };

function owner(o: Obj): { kind: string; name: string } | undefined {
  const ref = o.metadata?.ownerReferences?.find((r) => r.controller) ?? o.metadata?.ownerReferences?.[0];
  return ref ? { kind: ref.kind, name: ref.name } : undefined;
}

function short(o: Obj, kind: string, wants: number, has: number): WorkloadShort {
  const up = owner(o);
  return { namespace: o.metadata?.namespace ?? '', kind, name: o.metadata?.name ?? '', wants, has, ...(up ? { owner: up } : {}) };
}

/** The file a container path names, on the node: through the hostPath volume mounted at or above it. */
export function hostPathOf(manifest: string, containerPath: string): string | undefined {
  const pod = parseDocument(manifest).toJS() as { spec?: { containers?: Array<{ name?: string; volumeMounts?: Array<{ name: string; mountPath: string }> }>; volumes?: Array<{ name: string; hostPath?: { path: string } }> } };
  const c = pod.spec?.containers?.find((x) => x.name === 'kube-apiserver');
  const mount = (c?.volumeMounts ?? []).filter((m) => containerPath === m.mountPath || containerPath.startsWith(`${m.mountPath.replace(/\/$/, '')}/`)).sort((a, b) => b.mountPath.length - a.mountPath.length)[0];
  const vol = mount && pod.spec?.volumes?.find((v) => v.name === mount.name)?.hostPath;
  return vol ? `${vol.path.replace(/\/$/, '')}${containerPath.slice(mount.mountPath.replace(/\/$/, '').length)}` : undefined;
}

/** PodSecurity defaults from an AdmissionConfiguration (inline configuration, or the file it points to). */
export function podSecurityDefaults(config: string): { enforce?: string; enforceVersion?: string; exemptNamespaces: string[]; path?: string } {
  const doc = parseDocument(config).toJS() as { plugins?: Array<{ name?: string; path?: string; configuration?: { defaults?: Record<string, string>; exemptions?: { namespaces?: string[] } } }> };
  const plugin = doc?.plugins?.find((p) => p.name === 'PodSecurity');
  const d = plugin?.configuration?.defaults ?? {};
  return {
    ...(d.enforce ? { enforce: d.enforce } : {}),
    ...(d['enforce-version'] ? { enforceVersion: d['enforce-version'] } : {}),
    exemptNamespaces: plugin?.configuration?.exemptions?.namespaces ?? [],
    ...(plugin?.path ? { path: plugin.path } : {}),
  };
}

async function nodeDefaults(na: NodeAccess, node: string): Promise<PodSecurityDefault> {
  try {
    const manifest = (await readNodeFile(na, node, APISERVER_MANIFEST))?.toString('utf8');
    if (!manifest) return { node, exemptNamespaces: [], error: `${APISERVER_MANIFEST} not found` };
    const flag = /--admission-control-config-file=(\S+)/.exec(manifest)?.[1]?.replace(/["']/g, '');
    // no config file: PodSecurity's built-in default, privileged, which refuses nothing
    if (!flag) return { node, exemptNamespaces: [], enforce: 'privileged' };
    const onNode = hostPathOf(manifest, flag) ?? flag;
    const text = (await readNodeFile(na, node, onNode))?.toString('utf8');
    if (!text) return { node, configFile: onNode, exemptNamespaces: [], error: `${onNode} not found on the node` };
    const d = podSecurityDefaults(text);
    return { node, configFile: onNode, exemptNamespaces: d.exemptNamespaces, ...(d.enforce ? { enforce: d.enforce } : {}), ...(d.enforceVersion ? { enforceVersion: d.enforceVersion } : {}) };
  } catch (err) {
    return { node, exemptNamespaces: [], error: (err as Error).message };
  }
}

export async function collectPodCreate(ctx: KubeContext): Promise<PodCreateSnapshot> {
  const { apps, core } = ctx.kube;
  const snap: PodCreateSnapshot = { kind: 'pod-create', takenAt: new Date().toISOString(), events: [], namespaces: [], workloads: [], defaults: [] };
  const scopes = ctx.namespaces ?? [undefined];
  const failed = { fieldSelector: 'type=Warning,reason=FailedCreate' };
  for (const namespace of scopes) {
    const [events, rs, sts, ds, jobs] = namespace
      ? await Promise.all([
          core.listNamespacedEvent({ namespace, ...failed }),
          apps.listNamespacedReplicaSet({ namespace }),
          apps.listNamespacedStatefulSet({ namespace }),
          apps.listNamespacedDaemonSet({ namespace }),
          ctx.kube.objects.list('batch/v1', 'Job', namespace),
        ])
      : await Promise.all([
          core.listEventForAllNamespaces(failed),
          apps.listReplicaSetForAllNamespaces(),
          apps.listStatefulSetForAllNamespaces(),
          apps.listDaemonSetForAllNamespaces(),
          ctx.kube.objects.list('batch/v1', 'Job'),
        ]);
    snap.events.push(...recentEvents(events.items, snap.takenAt));
    snap.workloads.push(
      ...rs.items.map((o) => short(o as Obj, 'ReplicaSet', o.spec?.replicas ?? 1, o.status?.replicas ?? 0)),
      ...sts.items.map((o) => short(o as Obj, 'StatefulSet', o.spec?.replicas ?? 1, o.status?.replicas ?? 0)),
      ...ds.items.map((o) => short(o as Obj, 'DaemonSet', o.status?.desiredNumberScheduled ?? 0, o.status?.currentNumberScheduled ?? 0)),
      ...(jobs.items as Obj[])
        .filter((j) => !(j.status?.conditions ?? []).some((c: { type: string; status: string }) => (c.type === 'Complete' || c.type === 'Failed') && c.status === 'True'))
        .map((j) => short(j, 'Job', Math.max(1, j.spec?.parallelism ?? 1), (j.status?.active ?? 0) + (j.status?.succeeded ?? 0))),
    );
  }
  const nss = await core.listNamespace();
  snap.namespaces = nss.items.map((n) => ({ name: n.metadata?.name ?? '', labels: n.metadata?.labels ?? {} }));
  const na = nodeAccess(ctx);
  if (na) {
    const nodes = await controlPlaneNodes(na).catch(() => [] as string[]);
    snap.defaults = await Promise.all(nodes.map((n) => nodeDefaults(na, n)));
  }
  return snap;
}

export const podCreateRefusedDetector: Detector<PodCreateSnapshot> = {
  id: 'pod-create-refused',
  description: 'controllers whose pods admission refuses (PodSecurity with where its level comes from, ValidatingAdmissionPolicy, webhooks)',
  generic: true,
  collect: collectPodCreate,
  analyze: analyzePodCreate,
};
