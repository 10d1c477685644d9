// Which scenarios share a cluster at once (batches.ts), and a suite that runs them so, with FAKE provider, faults,
// detector and runbook (helpers/fakes.ts and the namespaced fakes below): no cluster is involved.
import { describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import { z } from 'zod';
import { batches } from '../../harness/engine/batches.js';
import { runSuite } from '../../harness/engine/suite.js';
import type { Registries } from '../../harness/engine/registries.js';
import type { LoadedScenario } from '../../harness/engine/scenario.js';
import type { Detector } from '../../harness/detectors/types.js';
import type { Fault } from '../../harness/faults/types.js';
import type { Runbook } from '../../harness/runbooks/types.js';
import { parseParallel } from '../../harness/cli/commands/run.js';
import { FAKE_KUBE, FakeDeployer, FakeProvider, fakeRegistries, fakeScenario, fakeWorld } from './helpers/fakes.js';
import { useTempStateDir } from './helpers/tmp.js';

const scoped = (id: string, namespace: string, over: Partial<LoadedScenario> = {}) =>
  fakeScenario({ id, isolation: 'namespace', victim: { ...fakeScenario().victim, namespace }, fault: { type: 'ns-fault', params: { namespace } }, detect: { expect: ['ns-detector'], evidence: [], findings: 1, deadlineSeconds: 5 }, runbook: { id: 'ns-runbook', params: {} }, ...over });
const ids = (bs: LoadedScenario[][]) => bs.map((b) => b.map((s) => s.id));

describe('batches', () => {
  test('namespace scenarios share a batch up to the limit; cluster scenarios run alone, in their place', () => {
    const list = [scoped('a', 'na'), fakeScenario({ id: 'node' }), scoped('b', 'nb'), scoped('c', 'nc'), scoped('d', 'nd')];
    expect(ids(batches(list, 2))).toEqual([['a', 'b'], ['node'], ['c', 'd']]);
    expect(ids(batches(list, 1))).toEqual([['a'], ['node'], ['b'], ['c'], ['d']]);
    expect(ids(batches(list, 8))).toEqual([['a', 'b', 'c', 'd'], ['node']]);
  });

  test('two scenarios of one namespace, or one with the alerting stack or a command for a runbook, never share', () => {
    const alerting = { expect: [], userAlerts: [], builtinAlerts: [] };
    const list = [scoped('a', 'same'), scoped('b', 'same'), scoped('c', 'nc', { alerting }), scoped('d', 'nd', { runbook: { id: 'ns-runbook', params: {}, exec: './fix.sh' } })];
    expect(ids(batches(list, 4))).toEqual([['a'], ['b'], ['c'], ['d']]);
  });

  test('property: every scenario once, in order within a batch, no batch over the limit, only namespace scenarios together', () => {
    const arb = fc.array(fc.record({ ns: fc.constantFrom('n1', 'n2', 'n3'), namespaced: fc.boolean() }), { maxLength: 12 });
    fc.assert(
      fc.property(arb, fc.integer({ min: 1, max: 5 }), (specs, parallel) => {
        const list = specs.map((s, i) => (s.namespaced ? scoped(`s${i}`, s.ns) : fakeScenario({ id: `s${i}`, victim: { ...fakeScenario().victim, namespace: s.ns } })));
        const bs = batches(list, parallel);
        expect(bs.flat().map((s) => s.id).sort()).toEqual(list.map((s) => s.id).sort());
        for (const b of bs) {
          expect(b.length).toBeLessThanOrEqual(Math.max(1, parallel));
          if (b.length > 1) expect(b.every((s) => s.isolation === 'namespace')).toBe(true);
          expect(new Set(b.map((s) => s.victim.namespace)).size).toBe(b.length);
          expect(b.map((s) => list.indexOf(s))).toEqual([...b.map((s) => list.indexOf(s))].sort((x, y) => x - y));
        }
      }),
    );
  });
});

describe('parseParallel', () => {
  test('a whole number from 1 to 8', () => {
    expect(parseParallel(undefined)).toBe(1);
    expect(parseParallel('3')).toBe(3);
    for (const bad of ['0', '9', '1.5', 'two', '', '-1']) expect(() => parseParallel(bad)).toThrow(/--parallel .* is not a whole number from 1 to 8/);
  });
});

/** FAKE faults in namespaces: each namespace's fault is its own, the detector names every broken namespace. */
function namespacedRegistries(events: string[]): Registries {
  const broken = new Set<string>();
  const fault: Fault<{ namespace: string }, { namespace: string }> = {
    type: 'ns-fault',
    description: 'fake namespaced fault',
    scope: 'namespace',
    paramsSchema: z.object({ namespace: z.string() }),
    plan: async (_c, p) => ({ namespace: p.namespace }),
    async apply(_c, p) {
      events.push(`apply ${p.namespace}`);
      broken.add(p.namespace);
    },
    async revert(_c, r) {
      events.push(`revert ${r.namespace}`);
      broken.delete(r.namespace);
    },
    describe: (r) => `fake ${r.namespace}`,
  };
  const detector: Detector<string[]> = {
    id: 'ns-detector',
    description: 'fake',
    collect: async () => [...broken],
    analyze: (nss) => nss.map((ns) => ({ detector: 'ns-detector', severity: 'critical', summary: `${ns} broken`, rootCause: 'fake', evidence: [], runbook: 'ns-runbook', resources: [`${ns}/Thing/one`] })),
  };
  const runbook: Runbook = {
    id: 'ns-runbook',
    title: 'fake',
    scope: 'namespace',
    verifyParams: z.object({ namespace: z.string() }),
    diagnose: async (_c, f) => ({ runbook: 'ns-runbook', summary: f.summary, details: [], data: { ns: f.resources[0]!.split('/')[0] } }),
    async remediate(_c, d) {
      const ns = (d.data as { ns: string }).ns;
      events.push(`remediate ${ns}`);
      broken.delete(ns);
      return { mode: 'automatic', actions: [`fixed ${ns}`] };
    },
    verify: async (_c, p) => ({ ok: !broken.has(String(p.namespace)), details: [] }),
    markdown: () => '# fake',
  };
  const base = fakeRegistries(fakeWorld());
  return { ...base, faults: new Map([...base.faults, ['ns-fault', fault]]), detectors: new Map<string, Detector<any>>([...base.detectors, ['ns-detector', detector]]), runbooks: new Map([...base.runbooks, ['ns-runbook', runbook]]) };
}

describe('runSuite --parallel (FAKE provider and faults)', () => {
  useTempStateDir();
  test('two namespace scenarios at once on one cluster: both faults in place together, each reverted, the cluster deleted once after both', async () => {
    const events: string[] = [];
    const w = fakeWorld();
    const provider = new FakeProvider(w);
    const deployer = new FakeDeployer(w);
    const deps = { provider, registries: namespacedRegistries(events), connect: () => FAKE_KUBE, deployer, pollIntervalMs: 10 };
    const report = await runSuite([scoped('a', 'na'), scoped('b', 'nb'), fakeScenario({ id: 'alone' })], deps, {
      runId: 'run-par',
      target: { mode: 'create', name: 'faultline-par' },
      keep: false,
      signal: new AbortController().signal,
      parallel: 2,
    });
    expect(report.scenarios.map((s) => [s.id, s.status])).toEqual([['a', 'passed'], ['b', 'passed'], ['alone', 'passed']]);
    // both faults were in place before either was fixed: they ran at once
    expect(events.indexOf('apply nb')).toBeLessThan(events.indexOf('remediate na'));
    expect(events.indexOf('apply na')).toBeLessThan(events.indexOf('remediate nb'));
    expect(events.filter((e) => e.startsWith('revert')).sort()).toEqual(['revert na', 'revert nb']);
    const provision = (id: string) => report.scenarios.find((s) => s.id === id)!.stages.find((s) => s.name === 'provision')!.message;
    expect(provision('b')).toBe('alongside a on cluster faultline-par (isolation: namespace)');
    expect(provision('alone')).toMatch(/^reusing cluster faultline-par/);
    expect(provider.created).toEqual(['faultline-par']);
    expect(provider.deleted).toEqual(['faultline-par']);
    // the batch's members each removed their namespace: the cluster outlived them for the scenario after
    expect(deployer.removed.sort()).toEqual(['na', 'nb']);
  });

  test('a batch that ends the run deletes the cluster at its last teardown, not while the other still runs', async () => {
    const w = fakeWorld();
    const events = w.calls; // the provider's calls and the faults' in one timeline
    const provider = new FakeProvider(w);
    const deps = { provider, registries: namespacedRegistries(events), connect: () => FAKE_KUBE, deployer: new FakeDeployer(w), pollIntervalMs: 10 };
    const report = await runSuite([scoped('a', 'na'), scoped('b', 'nb')], deps, { runId: 'run-par2', target: { mode: 'create', name: 'faultline-p2' }, keep: false, signal: new AbortController().signal, parallel: 2 });
    expect(report.scenarios.every((s) => s.status === 'passed')).toBe(true);
    const teardowns = report.scenarios.map((s) => s.stages.find((x) => x.name === 'teardown')!.message);
    expect(teardowns.filter((m) => m?.includes('deleted cluster faultline-p2'))).toHaveLength(1);
    expect(events.filter((c) => c === 'provider.delete faultline-p2')).toHaveLength(1);
    const deleted = events.indexOf('provider.delete faultline-p2');
    expect(deleted).toBeGreaterThan(events.indexOf('revert na'));
    expect(deleted).toBeGreaterThan(events.indexOf('revert nb'));
    expect(events.filter((e) => e.startsWith('revert'))).toHaveLength(2);
  });
});
