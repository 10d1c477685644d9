// The statefulset-env-conflict fault and runbook against a FAKE in-memory API (helpers/fake-kube.ts), plus the
// runbook's pure diagnosis on fixtures. Real API behaviour (the controller's FailedCreate) is e2e territory.
import { describe, expect, test } from '@jest/globals';
import { V1EnvVarSource, V1SecretKeySelector } from '@kubernetes/client-node';
import { statefulsetEnvConflict, type StsEnvConflictRecord } from '../../harness/faults/statefulset-env-conflict.js';
import { diagnoseFromSnapshot, statefulsetEnvConflictRunbook } from '../../harness/runbooks/statefulset-env-conflict.js';
import { crashloopRunbook } from '../../harness/runbooks/crashloop.js';
import { analyzeEnvConflicts } from '../../harness/detectors/statefulset-env-conflict.js';
import { eventInfo, podInfo, statefulSetInfo } from '../../harness/detectors/snapshot.js';
import type { RunContext } from '../../harness/cluster/context.js';
import { FakeKube } from './helpers/fake-kube.js';
import { NOW, SECRET_LITERAL, corePod, failedCreateEvent, postgresPod0, postgresSts } from './fixtures/cluster.js';

/** the pre-fault template as the scenario deploys it: POSTGRES_PASSWORD as a literal value */
function literalSts() {
  const sts = postgresSts(false, 1) as any;
  sts.spec.template.spec.containers[0].env[4] = { name: 'POSTGRES_PASSWORD', value: SECRET_LITERAL };
  return sts;
}

function fakeCtx(kube: FakeKube): RunContext {
  return {
    runId: 'r1',
    cluster: { provider: 'kind', name: 'fake', context: 'fake', kubeconfigPath: '/fake', createdByFaultline: true },
    provider: {} as any,
    kube: kube.clients(),
    log: () => {},
  };
}

const params = { namespace: 'harbor', statefulset: 'postgresql', container: 'postgresql', env: 'POSTGRES_PASSWORD', secretName: 'postgresql', secretKey: 'postgres-password' };
const envOf = (kube: FakeKube) => kube.statefulSets.get('harbor/postgresql')!.spec.template.spec.containers[0].env;

describe('statefulset-env-conflict fault (fake API)', () => {
  test('plan records names and positions, never the value; apply adds valueFrom next to value and deletes pod -0; apply is idempotent', async () => {
    const kube = new FakeKube();
    kube.statefulSets.set('harbor/postgresql', literalSts());
    kube.pods.set('harbor/postgresql-0', postgresPod0 as any);
    const ctx = fakeCtx(kube);
    const record = await statefulsetEnvConflict.plan(ctx, params);
    expect(record).toEqual({ ...params, list: 'containers', containerIndex: 0, envIndex: 4 });
    expect(JSON.stringify(record)).not.toContain(SECRET_LITERAL);
    await statefulsetEnvConflict.apply(ctx, params, record);
    expect(envOf(kube)[4]).toEqual({ name: 'POSTGRES_PASSWORD', value: SECRET_LITERAL, valueFrom: { secretKeyRef: { name: 'postgresql', key: 'postgres-password' } } });
    expect(kube.pods.has('harbor/postgresql-0')).toBe(false);
    const patches = kube.calls.filter((c) => c.startsWith('patch'));
    await statefulsetEnvConflict.apply(ctx, params, record);
    expect(kube.calls.filter((c) => c.startsWith('patch'))).toEqual(patches); // no second patch
  });

  test('plan refuses an env var without a literal value', async () => {
    const kube = new FakeKube();
    kube.statefulSets.set('harbor/postgresql', postgresSts(false));
    await expect(statefulsetEnvConflict.plan(fakeCtx(kube), params)).rejects.toThrow(/no literal value/);
  });

  test('revert finds the env var by name when the list moved, and removes only the valueFrom it added', async () => {
    const kube = new FakeKube();
    kube.statefulSets.set('harbor/postgresql', literalSts());
    const ctx = fakeCtx(kube);
    const record = await statefulsetEnvConflict.plan(ctx, params);
    await statefulsetEnvConflict.apply(ctx, params, record);
    // someone inserted an env var ahead of it, with the same valueFrom shape: it must stay as it is
    const other = { name: 'OTHER', value: 'x', valueFrom: { secretKeyRef: { name: 'postgresql', key: 'postgres-password' } } };
    kube.statefulSets.get('harbor/postgresql')!.spec.template.spec.containers[0].env.splice(4, 0, other);
    await statefulsetEnvConflict.revert(ctx, record);
    expect(envOf(kube)[4]).toEqual(other);
    expect(envOf(kube)[5]).toEqual({ name: 'POSTGRES_PASSWORD', value: SECRET_LITERAL });
  });

  test('revert restores the captured env with guarded patches, twice safely; after a runbook fix it keeps the fix', async () => {
    const kube = new FakeKube();
    kube.statefulSets.set('harbor/postgresql', literalSts());
    const ctx = fakeCtx(kube);
    const original = JSON.parse(JSON.stringify(envOf(kube)));
    // as @kubernetes/client-node reads it: valueFrom is a V1EnvVarSource instance, not a plain object
    kube.onRead = (o) => {
      for (const e of o.spec.template.spec.containers[0].env) {
        if (e.valueFrom) e.valueFrom = Object.assign(new V1EnvVarSource(), { secretKeyRef: Object.assign(new V1SecretKeySelector(), e.valueFrom.secretKeyRef) });
      }
      return o;
    };
    const record: StsEnvConflictRecord = await statefulsetEnvConflict.plan(ctx, params);
    await statefulsetEnvConflict.apply(ctx, params, record);
    kube.pods.set('harbor/postgresql-0', { status: { phase: 'Pending' } });
    await statefulsetEnvConflict.revert(ctx, record);
    expect(envOf(kube)).toEqual(original);
    const revertPatch = kube.calls.filter((c) => c.startsWith('patch')).pop()!;
    expect(revertPatch).toContain('"op":"test","path":"/spec/template/spec/containers/0/env/4/name","value":"POSTGRES_PASSWORD"');
    expect(revertPatch).toContain('"op":"remove","path":"/spec/template/spec/containers/0/env/4/valueFrom"');
    expect(revertPatch).not.toContain(SECRET_LITERAL);
    expect(kube.pods.has('harbor/postgresql-0')).toBe(false); // not Running: deleted
    await statefulsetEnvConflict.revert(ctx, record); // second call: no error, no change
    expect(envOf(kube)).toEqual(original);

    // inject again, remediate with the runbook, then revert: the remediated template stays
    await statefulsetEnvConflict.apply(ctx, params, record);
    const finding = analyzeEnvConflicts({ takenAt: NOW, statefulSets: [statefulSetInfo(kube.statefulSets.get('harbor/postgresql') as any)], pods: [], events: [] })[0]!;
    const diagnosis = diagnoseFromSnapshot({ takenAt: NOW, statefulSets: [statefulSetInfo(kube.statefulSets.get('harbor/postgresql') as any)], pods: [], events: [] }, finding);
    const result = await statefulsetEnvConflictRunbook.remediate(ctx, diagnosis);
    expect(result.mode).toBe('automatic');
    expect(envOf(kube)[4]).toEqual({ name: 'POSTGRES_PASSWORD', valueFrom: { secretKeyRef: { name: 'postgresql', key: 'postgres-password' } } });
    kube.pods.set('harbor/postgresql-0', postgresPod0 as any);
    await statefulsetEnvConflict.revert(ctx, record);
    expect(envOf(kube)[4].value).toBeUndefined();
    expect(kube.pods.has('harbor/postgresql-0')).toBe(true); // Running: left alone
  });
});

describe('statefulset-env-conflict in an init container (another container list)', () => {
  /** the same StatefulSet with a migration init container whose DB_PASSWORD has a literal value */
  function withInit(conflict: boolean) {
    const sts = postgresSts(false, conflict ? 0 : 1) as any;
    const env = conflict
      ? { name: 'DB_PASSWORD', value: SECRET_LITERAL, valueFrom: { secretKeyRef: { name: 'postgresql', key: 'postgres-password' } } }
      : { name: 'DB_PASSWORD', value: SECRET_LITERAL };
    sts.spec.template.spec.initContainers = [{ name: 'migrate', image: 'docker.io/library/busybox:1.35', env: [{ name: 'MODE', value: 'up' }, env] }];
    return sts;
  }
  const p = { ...params, container: 'migrate', env: 'DB_PASSWORD' };

  test('the detector names the init container and its field path; the runbook patches that list', async () => {
    const snap = { takenAt: NOW, statefulSets: [statefulSetInfo(withInit(true))], pods: [], events: [] };
    const [f] = analyzeEnvConflicts(snap);
    expect(f!.summary).toContain('env DB_PASSWORD in init container migrate sets both value and valueFrom');
    expect(f!.rootCause).toContain('spec.template.spec.initContainers[0].env[1] (DB_PASSWORD)');
    const kube = new FakeKube();
    kube.statefulSets.set('harbor/postgresql', withInit(true));
    const res = await statefulsetEnvConflictRunbook.remediate(fakeCtx(kube), diagnoseFromSnapshot(snap, f!));
    expect(res.actions[0]).toMatch(/removed value of DB_PASSWORD/);
    const init = kube.statefulSets.get('harbor/postgresql')!.spec.template.spec.initContainers[0];
    expect(init.env[1]).toEqual({ name: 'DB_PASSWORD', valueFrom: { secretKeyRef: { name: 'postgresql', key: 'postgres-password' } } });
    expect(kube.calls.find((c) => c.startsWith('patch'))).toContain('/spec/template/spec/initContainers/0/env/1/value');
  });

  test('the fault injects into the init container and reverts it', async () => {
    const kube = new FakeKube();
    kube.statefulSets.set('harbor/postgresql', withInit(false));
    const ctx = fakeCtx(kube);
    const record = await statefulsetEnvConflict.plan(ctx, p);
    expect(record).toMatchObject({ list: 'initContainers', containerIndex: 0, envIndex: 1 });
    await statefulsetEnvConflict.apply(ctx, p, record);
    expect(kube.statefulSets.get('harbor/postgresql')!.spec.template.spec.initContainers[0].env[1].valueFrom).toBeDefined();
    await statefulsetEnvConflict.revert(ctx, record);
    expect(kube.statefulSets.get('harbor/postgresql')!.spec.template.spec.initContainers[0].env[1]).toEqual({ name: 'DB_PASSWORD', value: SECRET_LITERAL });
  });
});

describe('statefulset-env-conflict runbook', () => {
  const broken = { takenAt: NOW, statefulSets: [statefulSetInfo(postgresSts(true))], pods: [podInfo(corePod(false))], events: [eventInfo(failedCreateEvent)] };
  const finding = analyzeEnvConflicts(broken)[0]!;

  test('diagnosis (fixtures) names the field path and env name, never the value', () => {
    const d = diagnoseFromSnapshot(broken, finding);
    expect(d.summary).toContain('spec.template.spec.containers[0].env[4] (POSTGRES_PASSWORD)');
    expect(d.details).toContain('spec.template.spec.containers[0].env[4]: name POSTGRES_PASSWORD, container postgresql');
    expect(d.details.join('\n')).toContain('sets both value (a literal, not shown) and valueFrom (secretKeyRef postgresql/postgres-password)');
    expect(d.data).toEqual({ namespace: 'harbor', statefulset: 'postgresql', conflicts: [{ container: 'postgresql', env: 'POSTGRES_PASSWORD', path: 'spec.template.spec.containers[0].env[4]' }] });
    expect(JSON.stringify(d)).not.toContain(SECRET_LITERAL);
  });

  test('diagnosis of an already fixed StatefulSet has nothing to change', () => {
    const fixed = { ...broken, statefulSets: [statefulSetInfo(postgresSts(false))] };
    expect(diagnoseFromSnapshot(fixed, finding).data.conflicts).toEqual([]);
  });

  test('remediation (fake API) removes value with test guards and deletes a stuck pod -0', async () => {
    const kube = new FakeKube();
    kube.statefulSets.set('harbor/postgresql', postgresSts(true));
    kube.pods.set('harbor/postgresql-0', { status: { phase: 'Pending' } });
    const res = await statefulsetEnvConflictRunbook.remediate(fakeCtx(kube), diagnoseFromSnapshot(broken, finding));
    const patch = kube.calls.find((c) => c.startsWith('patch'))!;
    expect(patch).toContain('"op":"test","path":"/spec/template/spec/containers/0/env/4/name","value":"POSTGRES_PASSWORD"');
    expect(patch).toContain('"op":"remove","path":"/spec/template/spec/containers/0/env/4/value"');
    expect(envOf(kube)[4].valueFrom).toBeDefined();
    expect(res.actions.join(' ')).toMatch(/deleted pod harbor\/postgresql-0 \(Pending\)/);
    expect(kube.pods.has('harbor/postgresql-0')).toBe(false);
  });

  test('verify (fake API) needs ready replicas, pod -0 Ready and dependants Ready', async () => {
    const kube = new FakeKube();
    kube.statefulSets.set('harbor/postgresql', postgresSts(false, 1));
    kube.pods.set('harbor/postgresql-0', postgresPod0 as any);
    kube.deployments.set('harbor/core', { spec: { replicas: 1 }, status: { readyReplicas: 0 } });
    const p = { namespace: 'harbor', statefulset: 'postgresql', dependants: [{ kind: 'Deployment', name: 'core' }] };
    const before = await statefulsetEnvConflictRunbook.verify(fakeCtx(kube), p);
    expect(before.ok).toBe(false);
    expect(before.details).toContain('Deployment harbor/core: ready 0/1');
    kube.deployments.set('harbor/core', { spec: { replicas: 1 }, status: { readyReplicas: 1 } });
    const after = await statefulsetEnvConflictRunbook.verify(fakeCtx(kube), p);
    expect(after).toEqual({ ok: true, details: expect.arrayContaining(['StatefulSet harbor/postgresql: ready 1/1', 'pod harbor/postgresql-0: Running, ready true']) });
  });

  test('markdown explains signature, remediation and verification; crashloop remediation is manual', async () => {
    const md = statefulsetEnvConflictRunbook.markdown();
    expect(md).toMatch(/^# Runbook: /);
    expect(md).toContain('may not be specified when `value` is not empty');
    expect(md).toContain('**Remediate (automatic).**');
    const res = await crashloopRunbook.remediate(fakeCtx(new FakeKube()), { runbook: 'crashloop', summary: 'x', details: [], data: {} });
    expect(res.mode).toBe('manual');
  });
});
