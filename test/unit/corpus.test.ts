// The doctor corpus's files and its scoring, without a cluster (the e2e suite applies it to one).
import { describe, expect, test } from '@jest/globals';
import { loadCorpus, score, type CorpusCase } from '../../bench/corpus.js';
import { builtinDetectors } from '../../harness/detectors/registry.js';

describe('doctor corpus', () => {
  const cases = loadCorpus();
  test('every case loads, names registered detectors, and carries manifests with a kind and a name', () => {
    const detectors = builtinDetectors();
    expect(cases.length).toBeGreaterThanOrEqual(38);
    for (const c of cases) {
      expect(`${c.id}: ${c.manifests.length > 0}`).toBe(`${c.id}: true`);
      for (const m of c.manifests) expect(`${c.id}: ${!!m.kind && !!m.metadata?.name}`).toBe(`${c.id}: true`);
      for (const e of c.expect) expect(`${c.id}: ${detectors.has(e.detector)}`).toBe(`${c.id}: true`);
      expect(c.namespace.length).toBeLessThanOrEqual(63);
    }
  });

  test('scoring: a met expectation, a missed one, a finding in a healthy namespace', () => {
    const two: CorpusCase[] = [
      { id: 'a', class: 'x', namespace: 'fc-a', namespaceLabels: {}, expect: [{ detector: 'crashloop', resource: 'Pod/web', says: ['exits with code 3'] }], tlsSecrets: [], manifests: [] },
      { id: 'b', class: 'x', namespace: 'fc-b', namespaceLabels: {}, expect: [{ detector: 'pod-pending', resource: 'Pod/big', says: ['cpu'] }], tlsSecrets: [], manifests: [] },
      { id: 'h', class: 'healthy', namespace: 'fc-h', namespaceLabels: {}, expect: [], tlsSecrets: [], manifests: [] },
    ];
    const s = score(two, [
      { detector: 'crashloop', summary: 'Pod fc-a/web-1 keeps restarting', rootCause: 'it exits with code 3', resources: ['fc-a/Pod/web-1'] },
      { detector: 'crashloop', summary: 'Pod fc-a/web-2 keeps restarting', rootCause: 'it exits with code 3', resources: ['fc-a/Pod/web-2'] },
      { detector: 'crashloop', summary: 'Pod fc-h/ok keeps restarting', rootCause: 'x', resources: ['fc-h/Pod/ok'] },
      { detector: 'crashloop', summary: 'outside the corpus', rootCause: 'x', resources: ['kube-system/Pod/x'] },
    ]);
    expect(s.recall).toBe(0.5);
    expect(s.precision).toBeCloseTo(2 / 3);
    expect(s.missed[0]).toMatch(/^b: pod-pending on Pod\/big/);
    expect(s.extra).toEqual(['fc-h/Pod/ok: crashloop: Pod fc-h/ok keeps restarting']);
  });
});
