// The victim-namespace change against a FAKE API (no cluster): it deletes only the namespace its run made, and a
// revert rides out an API server that is restarting.
import { describe, expect, test } from '@jest/globals';
import { ApiException } from '@kubernetes/client-node';
import { victimNamespace } from '../../harness/faults/victim-namespace.js';
import { inRunOrder } from '../../harness/engine/revert.js';

function fake(sequence: Array<'down' | 'ours' | 'theirs' | 'gone'>) {
  const calls: string[] = [];
  const core = {
    async readNamespace() {
      const next = sequence.shift() ?? 'gone';
      calls.push(`read ${next}`);
      if (next === 'down') throw new Error('connect ECONNREFUSED 127.0.0.1:6443');
      if (next === 'gone') throw new ApiException(404, 'not found', '{}', {});
      return { metadata: { labels: { 'app.kubernetes.io/managed-by': next === 'ours' ? 'faultline' : 'someone' }, annotations: { 'faultline/run-id': 'r1' } } };
    },
    async deleteNamespace() {
      calls.push('delete');
    },
  };
  return { calls, ctx: { runId: 'r1', kube: { core }, log: () => {} } as any };
}

describe('victim-namespace revert', () => {
  test('retries while the API server is down, deletes once, waits until it is gone', async () => {
    const { calls, ctx } = fake(['down', 'down', 'ours', 'ours', 'gone']);
    await victimNamespace.revert(ctx, { namespace: 'team', runId: 'r1' });
    expect(calls).toEqual(['read down', 'read down', 'read ours', 'delete', 'read ours', 'read gone']);
  }, 20_000);

  test('a namespace someone else owns is left in place', async () => {
    const { calls, ctx } = fake(['theirs']);
    await victimNamespace.revert(ctx, { namespace: 'team', runId: 'r1' });
    expect(calls).toEqual(['read theirs']);
  });
});

describe('recover puts a killed run back in the order the run itself would have', () => {
  test('set-ups and faults newest first, the victim namespace last (after a webhook configuration that guards its objects)', () => {
    const e = (id: string, faultType: string) => ({ id, faultType, params: {}, record: {}, state: 'applied' as const, at: '' });
    const entries = [e('setup-1', 'cluster-objects'), e('ns', 'victim-namespace'), e('fault-2', 'webhook-backend-hang')];
    // revertEntries undoes its list from the end
    expect(inRunOrder(entries).reverse().map((x) => x.id)).toEqual(['fault-2', 'setup-1', 'ns']);
  });
});
