// Polling helpers for end-to-end tests on real clusters.
import * as k8s from '@kubernetes/client-node';

export async function waitFor<T>(what: string, timeoutMs: number, probe: () => Promise<T | false | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await probe();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 2000));
  }
  throw new Error(`timed out after ${timeoutMs / 1000}s waiting for ${what}${last ? `: ${String(last)}` : ''}`);
}

const ready = (p: k8s.V1Pod) =>
  p.status?.phase === 'Running' && (p.status.containerStatuses ?? []).every((c) => c.ready);

/** Waits until every pod in the namespaces is Running and Ready (at least one pod each); returns them. */
export async function waitForSystemPods(core: k8s.CoreV1Api, namespaces: string[], timeoutMs: number): Promise<k8s.V1Pod[]> {
  return waitFor(`Running and Ready pods in ${namespaces.join(', ')}`, timeoutMs, async () => {
    const all: k8s.V1Pod[] = [];
    for (const namespace of namespaces) {
      const pods = (await core.listNamespacedPod({ namespace })).items;
      if (pods.length === 0 || !pods.every(ready)) return false;
      all.push(...pods);
    }
    return all;
  });
}

export async function waitForPodPhase(core: k8s.CoreV1Api, namespace: string, name: string, phase: string, timeoutMs: number) {
  return waitFor(`pod ${namespace}/${name} ${phase}`, timeoutMs, async () => {
    const p = await core.readNamespacedPod({ name, namespace });
    if (p.status?.phase === 'Failed' && phase !== 'Failed') throw new Error(`pod ${name} failed`);
    return p.status?.phase === phase ? p : false;
  });
}

export function podSpec(
  name: string,
  node: string | undefined,
  command: string[],
  opts: { labels?: Record<string, string>; restartPolicy?: string } = {},
): k8s.V1Pod {
  return {
    metadata: { name, labels: opts.labels ?? { app: name } },
    spec: {
      ...(node ? { nodeName: node } : {}),
      restartPolicy: opts.restartPolicy ?? 'Always',
      tolerations: [{ operator: 'Exists' }],
      terminationGracePeriodSeconds: 1,
      containers: [{ name, image: 'docker.io/library/busybox:latest', imagePullPolicy: 'IfNotPresent', command }],
    },
  };
}
