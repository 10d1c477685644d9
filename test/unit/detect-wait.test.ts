// Unit (a fake API client and fake detectors, no cluster): what the detect stage's wait says while nothing fires.
import { describe, expect, test } from '@jest/globals';
import type { V1Pod } from '@kubernetes/client-node';
import { podsNotReadyBrief } from '../../harness/cluster/components.js';
import { waitForFindings } from '../../harness/engine/detect-wait.js';
import type { Detector, Finding } from '../../harness/detectors/types.js';

const pod = (name: string, phase: string, node: string | undefined, waiting?: string, ready = false): V1Pod => ({
  metadata: { name, namespace: 'ns' },
  spec: { containers: [], ...(node ? { nodeName: node } : {}) },
  status: { phase, containerStatuses: [{ name: 'c', image: 'i', imageID: '', restartCount: 0, ready, state: waiting ? { waiting: { reason: waiting, message: 'SECRET=hunter2 in the message' } } : { running: {} } }] },
});

describe('podsNotReadyBrief', () => {
  test('names each pod not ready with its node and waiting reason, never the message', () => {
    const text = podsNotReadyBrief([pod('mirror-1', 'Pending', 'w1', 'ContainerCreating'), pod('op-1', 'Pending', 'w1', 'ImagePullBackOff'), pod('up', 'Running', 'w2', undefined, true), pod('new', 'Pending', undefined)]);
    expect(text).toBe('mirror-1 on w1: Pending, ContainerCreating; op-1 on w1: Pending, ImagePullBackOff; new (unscheduled): Pending');
    expect(text).not.toContain('hunter2');
  });

  test('says how many are ready when all are, and counts those past the limit', () => {
    expect(podsNotReadyBrief([pod('a', 'Running', 'n', undefined, true)])).toBe('all 1 pod(s) ready');
    expect(podsNotReadyBrief(['a', 'b', 'c'].map((n) => pod(n, 'Pending', 'n', 'ErrImagePull')), 2)).toBe('a on n: Pending, ErrImagePull; b on n: Pending, ErrImagePull; 1 more not ready');
  });
});

describe('waitForFindings', () => {
  const finding: Finding = { detector: 'd', severity: 'critical', summary: 'the cause, with proof', rootCause: 'the cause', evidence: [], runbook: 'r', resources: ['ns/Pod/a'] };
  const sc = { detect: { expect: ['d'], evidence: ['with proof'], findings: 1 }, victim: { namespace: 'ns' } } as any;

  test("shows the namespace's pods while the detector finds nothing, a failed scan's error, the evidence still missing, then the findings", async () => {
    const outcomes: Array<() => Finding[]> = [() => [], () => { throw new Error('probe from node w1 failed'); }, () => [{ ...finding, summary: 'the cause' }], () => [finding]];
    const detector: Detector<number> = { id: 'd', description: 'fake', collect: async () => 0, analyze: () => outcomes.shift()!() };
    const ctx = { kube: { core: { listNamespacedPod: async () => ({ items: [pod('a', 'Pending', 'w1', 'ContainerCreating')] }) } } } as any;
    const lines: string[] = [];
    const got = await waitForFindings(ctx, sc, new Map([['d', detector]]) as any, { signal: new AbortController().signal, progress: (m) => lines.push(m) }, 1);
    expect(got).toEqual([finding]);
    expect(lines).toEqual(['waiting for d (poll 1); ns: a on w1: Pending, ContainerCreating', 'waiting for d (poll 2): the scan failed: detector d: probe from node w1 failed', 'd fired; waiting for evidence "with proof" (poll 3)']);
  });

  test('a scenario that asks for two findings (two slow members) waits past a scan that names one', async () => {
    const a = { ...finding, summary: 'member a is slow, with proof', resources: ['ns/Pod/a'] };
    const b = { ...finding, summary: 'member b is slow, with proof', resources: ['ns/Pod/b'] };
    const outcomes: Array<() => Finding[]> = [() => [a], () => [a, b]];
    const detector: Detector<number> = { id: 'd', description: 'fake', collect: async () => 0, analyze: () => outcomes.shift()!() };
    const lines: string[] = [];
    const ctx = { kube: { core: { listNamespacedPod: async () => ({ items: [] }) } } } as any;
    const got = await waitForFindings(ctx, { ...sc, detect: { ...sc.detect, findings: 2 } }, new Map([['d', detector]]) as any, { signal: new AbortController().signal, progress: (m) => lines.push(m) }, 1);
    expect(got).toEqual([a, b]);
    expect(lines).toEqual(['d fired; waiting for 2 findings (1 so far) (poll 1)']);
  });
});
