// Manifest handling and readiness rules on fixtures (no cluster).
import { afterEach, describe, expect, test } from '@jest/globals';
import { join } from 'node:path';
import { readManifests, registerManifestSecrets } from '../../harness/engine/deploy.js';
import { readiness } from '../../harness/cluster/workloads.js';
import { repoRoot } from '../../harness/core/paths.js';
import { clearSecretValues, redactText } from '../../harness/core/redact.js';

afterEach(() => clearSecretValues());

const dir = join(repoRoot(), 'scenarios', 'statefulset-env-conflict', 'manifests');

describe('deploy helpers', () => {
  test('the scenario manifests parse, get the victim namespace, and their secrets are registered for redaction', () => {
    const objs = readManifests(['secret.yaml', 'postgresql.yaml', 'core.yaml'].map((f) => join(dir, f)), 'harbor');
    expect(objs.map((o) => `${o.kind}/${o.metadata!.namespace}/${o.metadata!.name}`)).toEqual([
      'Secret/harbor/postgresql',
      'Service/harbor/postgresql',
      'StatefulSet/harbor/postgresql',
      'Deployment/harbor/core',
    ]);
    const sts = objs[2] as any;
    const env = sts.spec.template.spec.containers[0].env;
    expect(env[4].name).toBe('POSTGRES_PASSWORD'); // env[4], as in the incident's FailedCreate
    expect(env[4].value).toBeDefined();
    expect(env[4].valueFrom).toBeUndefined();
    expect(sts.spec.template.spec.containers[0].image).toBe('docker.io/library/postgres:15');
    expect((objs[3] as any).spec.template.spec.containers[0].image).toBe('docker.io/library/postgres:15');
    expect(redactText('x not-secure-database-password y')).toBe('x not-secure-database-password y');
    registerManifestSecrets(objs);
    expect(redactText('x not-secure-database-password y')).toBe('x [REDACTED] y');
  });

  test('readiness follows rollout rules', () => {
    expect(readiness({ kind: 'StatefulSet', metadata: { generation: 2 }, spec: { replicas: 1 }, status: { observedGeneration: 2, readyReplicas: 1, updatedReplicas: 1 } }).ready).toBe(true);
    expect(readiness({ kind: 'StatefulSet', metadata: { generation: 3 }, spec: { replicas: 1 }, status: { observedGeneration: 2, readyReplicas: 1 } }).ready).toBe(false);
    expect(readiness({ kind: 'Deployment', metadata: { generation: 1 }, spec: { replicas: 2 }, status: { observedGeneration: 1, readyReplicas: 1, availableReplicas: 1, updatedReplicas: 2 } })).toEqual({ ready: false, detail: 'ready 1/2' });
    // mid-rollout: the new pod is ready while the old ReplicaSet's replica still counts (kubectl: pending termination)
    expect(readiness({ kind: 'Deployment', metadata: { generation: 2 }, spec: { replicas: 1 }, status: { observedGeneration: 2, replicas: 2, readyReplicas: 1, availableReplicas: 1, updatedReplicas: 1 } }).ready).toBe(false);
    expect(readiness({ kind: 'Deployment', metadata: { generation: 2 }, spec: { replicas: 1 }, status: { observedGeneration: 2, replicas: 1, readyReplicas: 1, availableReplicas: 1, updatedReplicas: 1 } }).ready).toBe(true);
    expect(readiness({ kind: 'Pod', status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] } }).ready).toBe(true);
    expect(readiness({ kind: 'Widget' }).ready).toBe(false);
  });
});

describe('KubeDeployer against a FAKE API (no cluster)', () => {
  test("an object the API refuses is named with the API's message, not the client's dump of the response", async () => {
    const { ApiException } = await import('@kubernetes/client-node');
    const { KubeDeployer } = await import('../../harness/engine/deploy.js');
    const body = JSON.stringify({ kind: 'Status', status: 'Failure', message: 'invalid object type: /, Kind=', code: 400 });
    const ctx = {
      kube: {
        core: { readNamespace: async () => { throw new ApiException(404, 'not found', '{}', {}); } },
        objects: { patch: async () => { throw new ApiException(400, 'Unsuccessful HTTP Request', body, { 'audit-id': 'a1b2' }); } },
      },
    };
    const scenario = { victim: { namespace: 'harbor', preloadImages: false, fixtures: [], ready: [] }, manifestPaths: [join(dir, 'secret.yaml')] };
    const s = { signal: new AbortController().signal, progress: () => {} };
    const err = await new KubeDeployer(1).deploy(ctx as never, scenario as never, s, async () => {}).catch((e: Error) => e);
    expect((err as Error).message).toBe('applying Secret harbor/postgresql: HTTP 400: invalid object type: /, Kind=');
  });
});
