// FAKE Kubernetes API for unit tests: an in-memory StatefulSet/Pod/Deployment store that understands the
// JSON patches faults and runbooks send, and rolls a patched Deployment out at once. It is not a cluster and proves nothing end to end.
import { ApiException } from '@kubernetes/client-node';
import type { KubeClients } from '../../../harness/cluster/kube.js';

type Obj = Record<string, any>;

function notFound(): never {
  throw new ApiException(404, 'not found', '{"message":"not found"}', {});
}

function walk(doc: Obj, path: string): [Obj, string] {
  const parts = path.split('/').slice(1).map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  const last = parts.pop()!;
  let cur: any = doc;
  for (const p of parts) {
    cur = cur[p];
    if (cur === undefined) throw new ApiException(422, `path ${path} missing`, '{}', {});
  }
  return [cur, last];
}

/** Applies RFC 6902 ops (test/add/remove/replace), failing like the API server on a failed test. */
export function applyJsonPatch(doc: Obj, ops: Array<{ op: string; path: string; value?: unknown }>): Obj {
  const out = JSON.parse(JSON.stringify(doc));
  for (const op of ops) {
    const [parent, key] = walk(out, op.path);
    if (op.op === 'test') {
      if (JSON.stringify(parent[key]) !== JSON.stringify(op.value)) throw new ApiException(422, `test failed at ${op.path}`, '{}', {});
    } else if (op.op === 'add' || op.op === 'replace') parent[key] = op.value;
    else if (op.op === 'remove') {
      if (!(key in parent)) throw new ApiException(422, `nothing to remove at ${op.path}`, '{}', {});
      delete parent[key];
    }
  }
  return out;
}

export class FakeKube {
  statefulSets = new Map<string, Obj>();
  pods = new Map<string, Obj>();
  deployments = new Map<string, Obj>();
  calls: string[] = [];
  /** what a read hands back, after the JSON copy: the real client returns class instances, not plain objects */
  onRead: (o: Obj) => Obj = (o) => o;

  clients(): KubeClients {
    const self = this;
    const k = (ns: string, name: string) => `${ns}/${name}`;
    const apps = {
      async readNamespacedStatefulSet({ name, namespace }: { name: string; namespace: string }) {
        self.calls.push(`read sts ${namespace}/${name}`);
        const o = self.statefulSets.get(k(namespace, name));
        return o ? self.onRead(JSON.parse(JSON.stringify(o))) : notFound();
      },
      async patchNamespacedStatefulSet({ name, namespace, body }: { name: string; namespace: string; body: any }) {
        self.calls.push(`patch sts ${namespace}/${name} ${JSON.stringify(body)}`);
        const o = self.statefulSets.get(k(namespace, name)) ?? notFound();
        const next = applyJsonPatch(o, body);
        self.statefulSets.set(k(namespace, name), next);
        return next;
      },
      async readNamespacedDeployment({ name, namespace }: { name: string; namespace: string }) {
        return self.deployments.get(k(namespace, name)) ?? notFound();
      },
      async patchNamespacedDeployment({ name, namespace, body }: { name: string; namespace: string; body: any }) {
        self.calls.push(`patch deploy ${namespace}/${name} ${JSON.stringify(body)}`);
        const o = self.deployments.get(k(namespace, name)) ?? notFound();
        const next = applyJsonPatch(o, body);
        // the controller's side, at once: a new generation, observed and rolled out
        next.metadata = { ...next.metadata, generation: (next.metadata?.generation ?? 1) + 1 };
        next.status = { ...next.status, observedGeneration: next.metadata.generation };
        self.deployments.set(k(namespace, name), next);
        return next;
      },
    };
    // the generic object API: reads of the apps/v1 kinds this store holds
    const objects = {
      async read(spec: { kind: string; metadata: { name: string; namespace: string } }) {
        const store = spec.kind === 'Deployment' ? self.deployments : spec.kind === 'StatefulSet' ? self.statefulSets : undefined;
        const o = store?.get(k(spec.metadata.namespace, spec.metadata.name));
        return o ? self.onRead(JSON.parse(JSON.stringify(o))) : notFound();
      },
    };
    const core = {
      /** every pod of the namespace (label selectors are not evaluated) */
      async listNamespacedPod({ namespace }: { namespace: string }) {
        return { items: [...self.pods.entries()].filter(([id]) => id.startsWith(`${namespace}/`)).map(([, p]) => p) };
      },
      async readNamespacedPod({ name, namespace }: { name: string; namespace: string }) {
        return self.pods.get(k(namespace, name)) ?? notFound();
      },
      async deleteNamespacedPod({ name, namespace }: { name: string; namespace: string }) {
        self.calls.push(`delete pod ${namespace}/${name}`);
        if (!self.pods.delete(k(namespace, name))) notFound();
        return {};
      },
    };
    return { kc: {} as any, apps: apps as any, core: core as any, objects: objects as any };
  }
}
