// mtls-ca-rotation revert on a FAKE in-memory Secret store (not a cluster; proves nothing end to end): the
// original bytes come back from the backup only when they match the journal's digests, a second revert does
// nothing, and a missing or altered backup is refused rather than guessed at.
import { describe, expect, test } from '@jest/globals';
import { ApiException, type V1Secret } from '@kubernetes/client-node';
import { mtlsCaRotation, type CaRotationRecord } from '../../harness/faults/mtls-ca-rotation.js';
import { dataDigest } from '../../harness/mtls/pki.js';
import { backupKey, digestOf } from '../../harness/mtls/secrets.js';

const NS = 'mtls';
const notFound = () => {
  throw new ApiException(404, 'not found', '{}', {});
};

class FakeSecrets {
  store = new Map<string, V1Secret>();
  rv = 1;
  put(s: V1Secret): V1Secret {
    const copy = JSON.parse(JSON.stringify(s)) as V1Secret;
    copy.metadata = { ...copy.metadata, namespace: NS, resourceVersion: String(this.rv++) };
    this.store.set(copy.metadata.name!, copy);
    return JSON.parse(JSON.stringify(copy));
  }
  ctx(logs: string[]) {
    const self = this;
    const core = {
      async readNamespacedSecret({ name }: { name: string }) {
        const s = self.store.get(name);
        return s ? JSON.parse(JSON.stringify(s)) : notFound();
      },
      async replaceNamespacedSecret({ body }: { body: V1Secret }) {
        return self.put(body);
      },
      async createNamespacedSecret({ body }: { body: V1Secret }) {
        return self.put(body);
      },
      async deleteNamespacedSecret({ name }: { name: string }) {
        if (!self.store.delete(name)) notFound();
        return {};
      },
      async patchNamespacedSecret({ name, body }: { name: string; body: Array<{ path: string; value: Record<string, string> }> }) {
        const s = self.store.get(name) ?? notFound();
        s.metadata!.annotations = body[0]!.value;
        return s;
      },
      async listNamespacedPod() {
        return { items: [] };
      },
    };
    return { runId: 'r1', cluster: {} as any, provider: {} as any, kube: { core } as any, log: (m: string) => logs.push(m), signal: new AbortController().signal };
  }
}

const secret = (name: string, data: Record<string, string>): V1Secret => ({ metadata: { name }, type: 'kubernetes.io/tls', data });
const ORIGINAL = { 'tls.crt': 'b3JpZ2luYWwtY2VydA==', 'tls.key': 'b3JpZ2luYWwta2V5', 'ca.crt': 'b3JpZ2luYWwtY2E=' };
const ROTATED = { 'tls.crt': 'cm90YXRlZA==', 'tls.key': 'cm90YXRlZC1rZXk=', 'ca.crt': 'bmV3LWNh' };

function setup() {
  const fake = new FakeSecrets();
  const orig = fake.put(secret('backend-tls', ORIGINAL));
  const rec: CaRotationRecord = { namespace: NS, caSecret: 'mtls-ca', backupSecret: 'faultline-backup-r1', secrets: [digestOf(orig)], restart: [] };
  const backup: Record<string, string> = {};
  for (const [k, v] of Object.entries(ORIGINAL)) backup[backupKey('backend-tls', k)] = v;
  fake.put({ metadata: { name: rec.backupSecret }, type: 'Opaque', data: backup });
  fake.put(secret('backend-tls', ROTATED));
  return { fake, rec };
}

describe('mtls-ca-rotation revert (fake Secret store)', () => {
  test('restores the original bytes, deletes the backup; a second revert changes nothing', async () => {
    const { fake, rec } = setup();
    const logs: string[] = [];
    await mtlsCaRotation.revert(fake.ctx(logs), rec);
    expect(fake.store.get('backend-tls')!.data).toEqual(ORIGINAL);
    expect(dataDigest(fake.store.get('backend-tls')!.data)).toBe(rec.secrets[0]!.sha256);
    expect(fake.store.has(rec.backupSecret)).toBe(false);
    const rv = fake.store.get('backend-tls')!.metadata!.resourceVersion;
    await mtlsCaRotation.revert(fake.ctx(logs), rec);
    expect(fake.store.get('backend-tls')!.metadata!.resourceVersion).toBe(rv);
    expect(logs.at(-1)).toContain('already the originals');
    expect(logs.join('\n')).not.toContain(ORIGINAL['tls.key']);
  });

  test('a backup that does not match the journal digest is refused and nothing is written', async () => {
    const { fake, rec } = setup();
    fake.store.get(rec.backupSecret)!.data![backupKey('backend-tls', 'tls.key')] = 'dGFtcGVyZWQ=';
    await expect(mtlsCaRotation.revert(fake.ctx([]), rec)).rejects.toThrow(/does not match the journal/);
    expect(fake.store.get('backend-tls')!.data).toEqual(ROTATED);
  });

  test('no backup while the Secret differs from the original: an error, not a guess', async () => {
    const { fake, rec } = setup();
    fake.store.delete(rec.backupSecret);
    await expect(mtlsCaRotation.revert(fake.ctx([]), rec)).rejects.toThrow(/backup Secret .* is missing/);
  });

  test('apply refuses when the Secrets changed after plan', async () => {
    const { fake, rec } = setup();
    fake.store.delete(rec.backupSecret);
    await expect(mtlsCaRotation.apply(fake.ctx([]), { namespace: NS, caSecret: 'mtls-ca', validDays: 30, restart: [] }, rec)).rejects.toThrow(/changed since plan/);
  });
});
