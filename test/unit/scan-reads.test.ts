// scanReads with fake API objects (no cluster): one request per distinct list call in a scan.
import { LIST_PAGE, scanReads } from '../../harness/detectors/registry.js';
import { EVENT_MAX_AGE_MS, recentEvents } from '../../harness/detectors/snapshot.js';
import type { KubeClients } from '../../harness/cluster/kube.js';

function fakeKube() {
  const calls: string[] = [];
  const api = (name: string) => ({
    listPodForAllNamespaces: async (a?: unknown) => { calls.push(`${name}.pods:${JSON.stringify(a)}`); return { metadata: {}, items: [] }; },
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
    await (k.apps as unknown as { listPodForAllNamespaces: () => Promise<unknown> }).listPodForAllNamespaces();
    await k.core.readNamespace({ name: 'a' } as never);
    await k.core.readNamespace({ name: 'a' } as never);
    expect(calls).toEqual([
      'core.pods:{"limit":500}',
      'core.pods:{"labelSelector":"app=x","limit":500}',
      'apps.pods:{"limit":500}',
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

describe('scanReads pages', () => {
  test('a list of 1,234 items is read in pages of LIST_PAGE and answered whole, with the selector kept on every page', async () => {
    const all = Array.from({ length: 1234 }, (_, i) => ({ name: `p${i}` }));
    const asked: Array<Record<string, unknown>> = [];
    const core = {
      listEventForAllNamespaces: async (a: { limit: number; _continue?: string; fieldSelector?: string }) => {
        asked.push(a);
        const from = Number(a._continue ?? 0);
        const next = from + a.limit < all.length ? String(from + a.limit) : undefined;
        return { metadata: next ? { _continue: next } : {}, items: all.slice(from, from + a.limit) };
      },
    };
    const k = scanReads({ kc: {}, core, apps: {}, objects: {} } as unknown as KubeClients);
    const got = (await k.core.listEventForAllNamespaces({ fieldSelector: 'type=Warning' })) as unknown as { items: unknown[]; metadata: object };
    expect(got.items).toEqual(all);
    expect(got.metadata).toEqual({});
    expect(asked.map((a) => [a.limit, a._continue, a.fieldSelector])).toEqual([
      [LIST_PAGE, undefined, 'type=Warning'],
      [LIST_PAGE, '500', 'type=Warning'],
      [LIST_PAGE, '1000', 'type=Warning'],
    ]);
  });
});

describe('recentEvents', () => {
  test('events older than the age bound are dropped; newer ones and those without a time are kept', () => {
    const now = '2026-12-01T12:00:00.000Z';
    const at = (msAgo: number) => new Date(Date.parse(now) - msAgo);
    const ev = (name: string, lastTimestamp?: Date) => ({ metadata: { namespace: 'a' }, involvedObject: { kind: 'Pod', name }, reason: 'BackOff', message: '', ...(lastTimestamp ? { lastTimestamp } : {}) });
    const kept = recentEvents([ev('new', at(60_000)), ev('edge', at(EVENT_MAX_AGE_MS)), ev('old', at(EVENT_MAX_AGE_MS + 1000)), ev('timeless')] as never, now);
    expect(kept.map((e) => e.involvedName)).toEqual(['new', 'edge', 'timeless']);
  });
});
