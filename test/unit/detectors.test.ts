// Detector analyze() on fixture objects (no cluster): healthy is quiet, the StatefulSet env conflict is named.
import { describe, expect, test } from '@jest/globals';
import { analyzeCrashloops } from '../../harness/detectors/crashloop.js';
import { dedupeFindings } from '../../harness/detectors/dedupe.js';
import { mentions } from '../../harness/detectors/pod-health.js';
import { eventInfo, podInfo, statefulSetInfo, type WorkloadSnapshot } from '../../harness/detectors/snapshot.js';
import { analyzeEnvConflicts } from '../../harness/detectors/statefulset-env-conflict.js';
import { builtinDetectors } from '../../harness/detectors/registry.js';
import {
  NOW,
  SECRET_LITERAL,
  FAILED_CREATE_MESSAGE,
  backOffEvent,
  corePod,
  corednsPod,
  failedCreateEvent,
  oldRestarts,
  postgresPod0,
  postgresSts,
  unrelatedCrasher,
} from './fixtures/cluster.js';

function snapshot(parts: { sts?: any[]; pods?: any[]; events?: any[] }): WorkloadSnapshot {
  return {
    takenAt: NOW,
    statefulSets: (parts.sts ?? []).map(statefulSetInfo),
    pods: (parts.pods ?? []).map(podInfo),
    events: (parts.events ?? []).map(eventInfo),
  };
}

const healthy = snapshot({ sts: [postgresSts(false)], pods: [postgresPod0, corePod(true), corednsPod, oldRestarts] });
const broken = snapshot({ sts: [postgresSts(true)], pods: [corePod(false), corednsPod, unrelatedCrasher], events: [failedCreateEvent, backOffEvent] });

describe('detectors on fixtures', () => {
  test('every registered detector is quiet on the healthy fixture', () => {
    for (const d of builtinDetectors().values()) expect(d.analyze(healthy)).toEqual([]);
  });

  test('statefulset-env-conflict names the env var, FailedCreate evidence and the crash-looping dependant', () => {
    const findings = analyzeEnvConflicts(broken);
    expect(findings).toHaveLength(1);
    const f = findings[0]!;
    expect(f.summary).toBe(
      'StatefulSet harbor/postgresql env POSTGRES_PASSWORD in container postgresql sets both value and valueFrom; ' +
        'the controller cannot create pod postgresql-0 (FailedCreate x12); dependants crash-looping: harbor/core-7d9f8-abcde',
    );
    expect(f.rootCause).toContain('spec.template.spec.containers[0].env[4] (POSTGRES_PASSWORD)');
    expect(f.rootCause).toContain('secretKeyRef postgresql/postgres-password');
    expect(f.evidence).toContain(`FailedCreate x12 (statefulset-controller): ${FAILED_CREATE_MESSAGE}`);
    expect(f.evidence).toContain('replicas 1, ready 0');
    expect(f.evidence).toContain('pod harbor/postgresql-0: absent');
    expect(f.evidence.some((e) => e.startsWith('dependant harbor/core-7d9f8-abcde refers to "postgresql": core CrashLoopBackOff, restarts 5'))).toBe(true);
    expect(f.runbook).toBe('statefulset-env-conflict');
    expect(f.resources).toEqual(['harbor/StatefulSet/postgresql', 'harbor/Pod/core-7d9f8-abcde', 'harbor/ReplicaSet/core-7d9f8']);
    // the unrelated crasher does not mention postgresql and is not linked
    expect(f.summary).not.toContain('worker');
  });

  test('no env values anywhere in findings', () => {
    const all = [...analyzeEnvConflicts(broken), ...analyzeCrashloops(broken)];
    const text = JSON.stringify(all);
    expect(text).not.toContain(SECRET_LITERAL);
    expect(text).not.toContain('scram-sha-256');
    expect(text).not.toContain('/var/lib/postgresql');
  });

  test('before any FailedCreate event the finding still names the cause and says so', () => {
    const f = analyzeEnvConflicts(snapshot({ sts: [postgresSts(true)], pods: [] }))[0]!;
    expect(f.summary).toContain('no FailedCreate event seen yet');
  });

  test('crashloop reports exit code and back-off events; dedupe leaves only what the StatefulSet finding does not explain', () => {
    const crash = analyzeCrashloops(broken);
    expect(crash.map((f) => f.resources[0])).toEqual(['harbor/Pod/core-7d9f8-abcde', 'harbor/Pod/worker-55f-qq']);
    expect(crash[0]!.rootCause).toBe('container core: it exits with code 1 (Error); to change: what spec.template.spec.containers[0] (core) needs to start: its last log lines say what it could not do');
    expect(crash[0]!.evidence).toContain('BackOff x9: Back-off restarting failed container core in pod core-7d9f8-abcde_harbor(uid)');
    const merged = dedupeFindings([...analyzeEnvConflicts(broken), ...crash], new Set(['crashloop']));
    expect(merged.map((f) => `${f.detector}:${f.resources[0]}`)).toEqual([
      'statefulset-env-conflict:harbor/StatefulSet/postgresql',
      'crashloop:harbor/Pod/worker-55f-qq',
    ]);
  });

  test('mentions() matches whole host names only', () => {
    expect(mentions('tcp://postgresql:5432', 'postgresql')).toBe(true);
    expect(mentions('postgresql.harbor.svc', 'postgresql')).toBe(true);
    expect(mentions('postgresql', 'postgresql')).toBe(true);
    expect(mentions('harbor-postgresql', 'postgresql')).toBe(false);
    expect(mentions('postgresql-exporter', 'postgresql')).toBe(false);
  });
});
