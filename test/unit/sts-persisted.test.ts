// The fault's fallback for API servers that validate StatefulSet templates (pure functions, no cluster).
import { describe, expect, test } from '@jest/globals';
import type { V1StatefulSet } from '@kubernetes/client-node';
import { persistedWithConflict, rejectedAsConflict } from '../../harness/faults/statefulset-env-conflict.js';

const params = { namespace: 'harbor', statefulset: 'postgresql', container: 'postgresql', env: 'POSTGRES_PASSWORD', secretName: 'postgresql', secretKey: 'postgres-password' };
const sts = (): V1StatefulSet => ({
  metadata: { name: 'postgresql', namespace: 'harbor', resourceVersion: '812', generation: 1, uid: 'u-1' },
  spec: {
    serviceName: 'postgresql',
    selector: { matchLabels: { app: 'postgresql' } },
    template: { spec: { containers: [{ name: 'postgresql', env: [{ name: 'PGDATA', value: '/d' }, { name: 'POSTGRES_PASSWORD', value: 'lit' }] }] } },
  },
});

describe('statefulset-env-conflict storage write', () => {
  test('the stored object gains valueFrom beside the literal, keeps identity, drops resourceVersion, bumps generation', () => {
    const original = sts();
    const out = persistedWithConflict(original, { list: 'containers', ci: 0, ei: 1 }, params) as any;
    expect(out.apiVersion).toBe('apps/v1');
    expect(out.kind).toBe('StatefulSet');
    expect(out.metadata.uid).toBe('u-1');
    expect(out.metadata.resourceVersion).toBeUndefined();
    expect(out.metadata.generation).toBe(2);
    expect(out.spec.template.spec.containers[0].env[1]).toEqual({
      name: 'POSTGRES_PASSWORD',
      value: 'lit',
      valueFrom: { secretKeyRef: { name: 'postgresql', key: 'postgres-password' } },
    });
    // the input object is not mutated
    expect(original.spec!.template.spec!.containers[0]!.env![1]!.valueFrom).toBeUndefined();
    expect(original.metadata!.resourceVersion).toBe('812');
  });

  test('only the API validation error of this very conflict triggers the storage write', () => {
    const body = '{"message":"StatefulSet.apps \\"postgresql\\" is invalid: spec.template.spec.containers[0].env[4].valueFrom: Invalid value: \\"\\": may not be specified when `value` is not empty"}';
    expect(rejectedAsConflict({ code: 422, body })).toBe(true);
    expect(rejectedAsConflict({ code: 422, body: '{"message":"spec.replicas: Invalid value"}' })).toBe(false);
    expect(rejectedAsConflict({ code: 403, body })).toBe(false);
    expect(rejectedAsConflict(new Error('boom'))).toBe(false);
  });
});
