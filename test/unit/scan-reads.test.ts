// scanReads with fake API objects (no cluster): one request per distinct list call in a scan.
import { scanReads } from '../../harness/detectors/registry.js';
import type { KubeClients } from '../../harness/cluster/kube.js';

function fakeKube() {
  const calls: string[] = [];
  const api = (name: string) => ({
    listPodForAllNamespaces: async (a?: unknown) => { calls.push(`${name}.pods:${JSON.stringify(a)}`); return { items: [] }; },
    readNamespace: async (a: unknown) => { calls.push(`${name}.read:${JSON.stringify(a)}`); return {}; },
  });
  const kube = { kc: {}, core: api('core'), apps: api('apps'), objects: api('objects') } as unknown as KubeClients;
  return { kube, calls };
}

describe('scanReads', () => {
  test('the same list with the same arguments is asked once; other arguments, other APIs and reads are not shared', async () => {
    const { kube, calls } = fakeKube();
    const k = scanReads(kube);
    const a = await Promise.all([k.core.listPodForAllNamespaces(), k.core.listPodForAllNamespaces()]);
    expect(a[0]).toBe(a[1]);
    await k.core.listPodForAllNamespaces({ labelSelector: 'app=x' } as never);
    await k.apps.listPodForAllNamespaces?.call(k.apps);
    await k.core.readNamespace({ name: 'a' } as never);
    await k.core.readNamespace({ name: 'a' } as never);
    expect(calls).toEqual([
      'core.pods:undefined',
      'core.pods:{"labelSelector":"app=x"}',
      'apps.pods:undefined',
      'core.read:{"name":"a"}',
      'core.read:{"name":"a"}',
    ]);
  });

  test('a new scan reads again', async () => {
    const { kube, calls } = fakeKube();
    await scanReads(kube).core.listPodForAllNamespaces();
    await scanReads(kube).core.listPodForAllNamespaces();
    expect(calls).toHaveLength(2);
  });
});
