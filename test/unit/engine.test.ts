// Engine flow with FAKE provider, fault, detector, runbook, deployer and integrity check (see helpers/fakes.ts).
import { describe, expect, test } from '@jest/globals';
import { z } from 'zod';
import { readFileSync } from 'node:fs';
import { RunJournal } from '../../harness/engine/journal.js';
import type { Deployer } from '../../harness/engine/deploy.js';
import { sleep } from '../../harness/core/poll.js';
import { HOLD_ENV, holdAfterApplyMs } from '../../harness/engine/hold.js';
import { runSuite } from '../../harness/engine/suite.js';
import type { ClusterState } from '../../harness/engine/baseline.js';
import type { Detector } from '../../harness/detectors/types.js';
import { STAGE_ORDER } from '../../harness/core/stages.js';
import { FAKE_KUBE, FakeDeployer, FakeProvider, fakeRegistries, fakeScenario, fakeWorld, type FakeWorld } from './helpers/fakes.js';
import { useTempStateDir } from './helpers/tmp.js';

const tmp = useTempStateDir();

function setup(w: FakeWorld, caps = {}) {
  const provider = new FakeProvider(w, caps);
  const deployer = new FakeDeployer(w);
  const deps = {
    provider,
    registries: fakeRegistries(w),
    connect: () => FAKE_KUBE,
    deployer,
    pollIntervalMs: 10,
  };
  return { provider, deployer, deps };
}

describe('engine with fakes', () => {
  test('fake happy path: stages in order, TTD and TTR computed, revert still runs, cluster torn down', async () => {
    const w = fakeWorld({ firesAfterPolls: 3 });
    const { provider, deps } = setup(w);
    const ctrl = new AbortController();
    const report = await runSuite([fakeScenario()], deps, { runId: 'run-happy', target: { mode: 'create', name: 'faultline-t' }, keep: false, signal: ctrl.signal });
    const sc = report.scenarios[0]!;
    expect(sc.stages.map((s) => s.name)).toEqual([...STAGE_ORDER]);
    expect(sc.stages.map((s) => s.status)).toEqual(STAGE_ORDER.map(() => 'passed'));
    expect(sc.status).toBe('passed');
    expect(sc.ttdSeconds).not.toBeNull();
    expect(sc.ttdSeconds!).toBeGreaterThan(0); // 3 polls at 10 ms
    expect(sc.ttdSeconds!).toBeLessThan(1);
    expect(sc.ttrSeconds).not.toBeNull();
    expect(sc.ttrSeconds!).toBeGreaterThanOrEqual(0);
    expect(sc.findings.map((f) => f.detector)).toEqual(['fake-detector']);
    expect(sc.integrity.map((i) => `${i.phase}:${i.ok}`)).toEqual(['write:true', 'check:true']);
    // revert runs after a successful remediation, after inject, once
    expect(w.calls.filter((c) => c.startsWith('fault.revert'))).toEqual(['fault.revert undo-x']);
    expect(w.calls.indexOf('fault.plan')).toBeLessThan(w.calls.indexOf('fault.apply'));
    expect(w.calls.indexOf('runbook.remediate')).toBeLessThan(w.calls.indexOf('fault.revert undo-x'));
    expect(provider.created).toEqual(['faultline-t']);
    expect(provider.deleted).toEqual(['faultline-t']);
    const journal = JSON.parse(readFileSync(`${tmp.path}/journal/run-happy.json`, 'utf8'));
    expect(journal.entries).toHaveLength(1);
    expect(journal.entries[0].state).toBe('reverted');
    expect(journal.entries[0].record).toEqual({ token: 'undo-x' });
    expect(report.schemaVersion).toBe(1);
    expect(report.cluster).toEqual({ provider: 'kind', name: 'faultline-t', nodeImage: 'fake/node:v0' });
  });

  test('TTR counts to when the cluster was healthy, not to the end of the window that confirmed it', async () => {
    const w = fakeWorld({ firesAfterPolls: 1 });
    const { deps } = setup(w);
    const rb = deps.registries.runbooks.get('fake-runbook')!;
    deps.registries.runbooks.set('fake-runbook', {
      ...rb,
      async verify(ctx, p) {
        const since = Date.now();
        await sleep(400); // the confirming window
        const v = await rb.verify(ctx, p);
        return v.ok ? { ...v, healthySince: since } : v;
      },
    });
    const report = await runSuite([fakeScenario()], deps, { runId: 'run-ttr', target: { mode: 'create', name: 'faultline-ttr' }, keep: false, signal: new AbortController().signal });
    const sc = report.scenarios[0]!;
    expect(sc.status).toBe('passed');
    expect(sc.confirmedAfterSeconds! - sc.ttrSeconds!).toBeGreaterThanOrEqual(0.35);
  });

  test('fake detector never fires: detect fails on its deadline, later stages skipped, revert and teardown run', async () => {
    const w = fakeWorld({ firesAfterPolls: Infinity });
    const { provider, deps } = setup(w);
    const sc0 = fakeScenario();
    sc0.stageDeadlines.detect = 0.3;
    const report = await runSuite([sc0], deps, { runId: 'run-deadline', target: { mode: 'create', name: 'faultline-d' }, keep: false, signal: new AbortController().signal });
    const sc = report.scenarios[0]!;
    const st = Object.fromEntries(sc.stages.map((s) => [s.name, s]));
    expect(st.detect!.status).toBe('failed');
    expect(st.detect!.message).toMatch(/exceeded its deadline of 0.3s/);
    expect(st.detect!.message).toMatch(/waiting for fake-detector/);
    expect(['diagnose', 'remediate', 'verify'].map((n) => st[n]!.status)).toEqual(['skipped', 'skipped', 'skipped']);
    expect(st.revert!.status).toBe('passed');
    expect(st.teardown!.status).toBe('passed');
    expect(w.applied).toBe(false); // reverted
    expect(sc.status).toBe('failed');
    expect(sc.reason).toMatch(/^detect failed/);
    expect(sc.ttdSeconds).toBeNull();
    expect(sc.ttrSeconds).toBeNull();
    expect(provider.deleted).toEqual(['faultline-d']);
  });

  test('fake run aborted (SIGINT) during detect: stage interrupted, revert runs, report marks the interruption', async () => {
    const ctrl = new AbortController();
    const w = fakeWorld({ firesAfterPolls: Infinity, onPoll: (n) => n === 2 && ctrl.abort('SIGINT') });
    const { deps } = setup(w);
    const report = await runSuite([fakeScenario(), fakeScenario({ id: 'second' })], deps, {
      runId: 'run-abort',
      target: { mode: 'create', name: 'faultline-a' },
      keep: false,
      signal: ctrl.signal,
    });
    const sc = report.scenarios[0]!;
    const st = Object.fromEntries(sc.stages.map((s) => [s.name, s]));
    expect(st.detect!.status).toBe('interrupted');
    expect(st.detect!.message).toMatch(/SIGINT/);
    expect(st.revert!.status).toBe('passed');
    expect(w.calls).toContain('fault.revert undo-x');
    expect(w.applied).toBe(false);
    expect(sc.status).toBe('failed');
    expect(report.interrupted).toBe('SIGINT');
    // the scenario after the interrupted one never starts, and the cluster the run made goes with the interrupt
    expect(report.scenarios[1]!.status).toBe('skipped');
    expect(w.calls.filter((c) => c === 'fault.apply')).toHaveLength(1);
    expect(st.teardown!.message).toContain('deleted cluster faultline-a');
    expect(w.calls.filter((c) => c === 'provider.delete faultline-a')).toHaveLength(1);
  });

  test('fake apply slower than its deadline and deaf to its signal: revert waits for it to end, then undoes it', async () => {
    const w = fakeWorld({ applyDelayMs: 1_500 });
    const { deps } = setup(w);
    const sc0 = fakeScenario();
    sc0.stageDeadlines.inject = 0.1;
    const report = await runSuite([sc0], deps, { runId: 'run-slow-apply', target: { mode: 'create', name: 'faultline-s' }, keep: false, signal: new AbortController().signal });
    const st = Object.fromEntries(report.scenarios[0]!.stages.map((s) => [s.name, s]));
    expect(st.inject!.status).toBe('failed');
    expect(st.inject!.message).toMatch(/exceeded its deadline of 0.1s/);
    expect(st.inject!.durationSeconds).toBeGreaterThanOrEqual(1.4); // the stage ended with its work, not at the deadline
    expect(w.calls.indexOf('fault.apply done')).toBeGreaterThan(-1);
    expect(w.calls.indexOf('fault.apply done')).toBeLessThan(w.calls.indexOf('fault.revert undo-x'));
    expect(w.applied).toBe(false); // the late apply did not land after the revert
    expect(st.revert!.status).toBe('passed');
  });

  test('fake apply fails half-way: the planned entry is still reverted', async () => {
    const w = fakeWorld({ failApply: true });
    const { deps } = setup(w);
    const report = await runSuite([fakeScenario()], deps, { runId: 'run-partial', target: { mode: 'create', name: 'faultline-p' }, keep: false, signal: new AbortController().signal });
    const st = Object.fromEntries(report.scenarios[0]!.stages.map((s) => [s.name, s]));
    expect(st.inject!.status).toBe('failed');
    expect(st.inject!.message).toMatch(/fake apply failed/);
    expect(st.detect!.status).toBe('skipped');
    expect(st.revert!.status).toBe('passed');
    expect(w.calls).toContain('fault.revert undo-x');
    const journal = JSON.parse(readFileSync(`${tmp.path}/journal/run-partial.json`, 'utf8'));
    expect(journal.entries[0].state).toBe('reverted');
  });

  test('fake noisy steady state: no injection happens, revert has nothing to do', async () => {
    const w = fakeWorld({ noisyBeforeInject: true });
    const { deps } = setup(w);
    const sc0 = fakeScenario();
    sc0.stageDeadlines.steadyState = 0.2;
    const report = await runSuite([sc0], deps, { runId: 'run-noisy', target: { mode: 'create', name: 'faultline-n' }, keep: false, signal: new AbortController().signal });
    const st = Object.fromEntries(report.scenarios[0]!.stages.map((s) => [s.name, s]));
    expect(st['steady-state']!.status).toBe('failed');
    expect(st['steady-state']!.message).toMatch(/detectors to be quiet.*fake thing broken/);
    expect(st.inject!.status).toBe('skipped');
    expect(w.calls).not.toContain('fault.apply');
    expect(st.revert!.message).toBe('nothing was injected');
  });

  /** FAKE detector: a kube-system pod restarted by an earlier run, outside any scenario's scope */
  const troubleElsewhere: Detector<object> = {
    id: 'elsewhere',
    description: 'fake: a kube-system pod restarted by an earlier run',
    collect: async () => ({}),
    analyze: () => [{ detector: 'elsewhere', severity: 'warning', summary: 'kcm restarted', rootCause: '', evidence: [], runbook: 'manual-change', resources: ['kube-system/Pod/kcm'] }],
  };

  test('fake trouble outside the scenario (another detector, another namespace) is reported, not waited out', async () => {
    const w = fakeWorld({ firesAfterPolls: 2 });
    const { deps } = setup(w);
    deps.registries.detectors.set('elsewhere', troubleElsewhere);
    const logs: string[] = [];
    const report = await runSuite([fakeScenario()], { ...deps, log: (m: string) => logs.push(m) }, { runId: 'run-elsewhere', target: { mode: 'create', name: 'faultline-e' }, keep: false, signal: new AbortController().signal });
    const sc = report.scenarios[0]!;
    const st = Object.fromEntries(sc.stages.map((s) => [s.name, s]));
    expect(st['steady-state']!.status).toBe('passed');
    expect(st['steady-state']!.message).toContain("1 finding(s) elsewhere, not this scenario's: kube-system/Pod/kcm");
    expect(logs.some((l) => l.includes('left as it is: kcm restarted'))).toBe(true);
    expect(sc.status).toBe('passed');
  });

  test('fake blind detector next to trouble elsewhere: the steady state is not quiet, it fails naming the error', async () => {
    const w = fakeWorld();
    const { deps } = setup(w);
    deps.registries.detectors.set('elsewhere', troubleElsewhere);
    deps.registries.detectors.set('blind', { id: 'blind', description: 'fake: cannot read', collect: async () => { throw new Error('connection refused'); }, analyze: () => [] });
    const sc0 = fakeScenario();
    sc0.stageDeadlines.steadyState = 0.2;
    const report = await runSuite([sc0], deps, { runId: 'run-blind', target: { mode: 'create', name: 'faultline-b' }, keep: false, signal: new AbortController().signal });
    const st = Object.fromEntries(report.scenarios[0]!.stages.map((s) => [s.name, s]));
    expect(st['steady-state']!.status).toBe('failed');
    expect(st['steady-state']!.message).toContain('detector blind: connection refused');
    expect(w.calls).not.toContain('fault.apply');
  });

  test('fake provider without kubeadm: a scenario that needs it is skipped and no cluster is made', async () => {
    const w = fakeWorld();
    const { provider, deps } = setup(w, { kubeadm: false });
    const report = await runSuite([fakeScenario({ cluster: { needs: ['kubeadm'] } })], deps, {
      runId: 'run-skip',
      target: { mode: 'create', name: 'faultline-s' },
      keep: false,
      signal: new AbortController().signal,
    });
    expect(report.scenarios[0]!.status).toBe('skipped');
    expect(report.scenarios[0]!.reason).toMatch(/needs kubeadm/);
    expect(provider.created).toEqual([]);
  });

  test('fake --keep: the cluster and namespace stay; reuse of a cluster never deletes it', async () => {
    const w = fakeWorld();
    const { provider, deployer, deps } = setup(w);
    await runSuite([fakeScenario()], deps, { runId: 'run-keep', target: { mode: 'create', name: 'faultline-k' }, keep: true, signal: new AbortController().signal });
    expect(provider.deleted).toEqual([]);
    expect(deployer.removed).toEqual([]);

    const w2 = fakeWorld();
    const s2 = setup(w2);
    const ref = { provider: 'kind' as const, name: 'faultline-old', context: 'kind-faultline-old', kubeconfigPath: '/fake', createdByFaultline: true };
    const report = await runSuite([fakeScenario()], s2.deps, { runId: 'run-reuse', target: { mode: 'reuse', ref }, keep: false, signal: new AbortController().signal });
    expect(report.scenarios[0]!.status).toBe('passed');
    expect(s2.provider.created).toEqual([]);
    expect(s2.provider.deleted).toEqual([]);
    expect(s2.deployer.removed).toEqual(['victim']); // the namespace the run created goes
  });

  test('fake journal is written before apply', async () => {
    const w = fakeWorld();
    const journal = RunJournal.create('run-order', { provider: 'kind', name: 'c', context: 'kind-c', kubeconfigPath: '/fake', createdByFaultline: true });
    const registries = fakeRegistries(w);
    const fault = registries.faults.get('fake-fault')!;
    const origApply = fault.apply;
    let entriesAtApply = -1;
    fault.apply = async (...args) => {
      entriesAtApply = JSON.parse(readFileSync(journal.path, 'utf8')).entries.length;
      return origApply(...args);
    };
    const { deps } = setup(w);
    await runSuite([fakeScenario()], { ...deps, registries }, {
      runId: 'run-order',
      target: { mode: 'create', name: 'faultline-o' },
      keep: false,
      signal: new AbortController().signal,
      journal: () => journal,
    });
    expect(entriesAtApply).toBe(1);
  });

  test('fake run with the hold-after-apply test hook: SIGINT during the hold interrupts inject, the applied fault is still reverted', async () => {
    const ctrl = new AbortController();
    const w = fakeWorld();
    const { deps } = setup(w);
    const logs: string[] = [];
    let appliedAtHold: boolean | undefined;
    let journalAtHold: string | undefined;
    process.env[HOLD_ENV] = '60000';
    const started = Date.now();
    try {
      const report = await runSuite([fakeScenario()], {
        ...deps,
        log: (m) => {
          logs.push(m);
          if (m.startsWith('holding ')) {
            appliedAtHold = w.applied;
            journalAtHold = JSON.parse(readFileSync(`${tmp.path}/journal/run-hold.json`, 'utf8')).entries[0].state;
            setTimeout(() => ctrl.abort('SIGINT'), 20);
          }
        },
      }, { runId: 'run-hold', target: { mode: 'create', name: 'faultline-h' }, keep: false, signal: ctrl.signal });
      const st = Object.fromEntries(report.scenarios[0]!.stages.map((s) => [s.name, s]));
      expect(logs).toContain(`holding 60000ms after apply (${HOLD_ENV})`);
      expect(appliedAtHold).toBe(true); // the hold comes after apply ...
      expect(journalAtHold).toBe('applied'); // ... and after the journal says so
      expect(st.inject!.status).toBe('interrupted');
      expect(st.inject!.deadlineSeconds).toBe(60 + 60); // default 60 s plus the hold
      expect(st.detect!.status).toBe('skipped');
      expect(st.revert!.status).toBe('passed');
      expect(w.applied).toBe(false);
      expect(w.calls.filter((c) => c.startsWith('fault.revert'))).toEqual(['fault.revert undo-x']);
      expect(JSON.parse(readFileSync(`${tmp.path}/journal/run-hold.json`, 'utf8')).entries[0].state).toBe('reverted');
      expect(report.interrupted).toBe('SIGINT');
      expect(Date.now() - started).toBeLessThan(10_000); // the abort ended the 60 s hold
    } finally {
      delete process.env[HOLD_ENV];
    }
  });

  test('fake hold hook: the hold ends on its own and the run goes on; a bad value fails inject before any change', async () => {
    const w = fakeWorld();
    const { deps } = setup(w);
    const ok = await runSuite([fakeScenario()], { ...deps, holdAfterApplyMs: 50 }, { runId: 'run-hold-ok', target: { mode: 'create', name: 'faultline-h2' }, keep: false, signal: new AbortController().signal });
    expect(ok.scenarios[0]!.status).toBe('passed');
    expect(ok.scenarios[0]!.stages.find((s) => s.name === 'inject')!.durationSeconds).toBeGreaterThanOrEqual(0.05);

    const w2 = fakeWorld();
    const s2 = setup(w2);
    process.env[HOLD_ENV] = 'soon';
    try {
      const bad = await runSuite([fakeScenario()], s2.deps, { runId: 'run-hold-bad', target: { mode: 'create', name: 'faultline-h3' }, keep: false, signal: new AbortController().signal });
      const inject = bad.scenarios[0]!.stages.find((s) => s.name === 'inject')!;
      expect(inject.status).toBe('failed');
      expect(inject.message).toMatch(/FAULTLINE_TEST_HOLD_AFTER_APPLY_MS must be a whole number/);
      expect(w2.calls).not.toContain('fault.plan');
    } finally {
      delete process.env[HOLD_ENV];
    }
    expect(holdAfterApplyMs({})).toBe(0);
    expect(holdAfterApplyMs({ [HOLD_ENV]: '1500' })).toBe(1500);
    expect(() => holdAfterApplyMs({ [HOLD_ENV]: '-1' })).toThrow(/whole number/);
  });

  test('fake deploy interrupted after it created the namespace: teardown still removes that namespace', async () => {
    const ctrl = new AbortController();
    const w = fakeWorld();
    const { deployer, deps } = setup(w);
    // a FAKE deployer that creates the namespace, then waits for readiness until the run is aborted
    (deployer as Deployer).deploy = async (_ctx, _sc, s, createNamespace) => {
      await createNamespace('victim');
      setTimeout(() => ctrl.abort('SIGINT'), 10);
      await sleep(60_000, s.signal);
      return { createdNamespace: true, message: 'unreachable' };
    };
    const ref = { provider: 'kind' as const, name: 'faultline-old', context: 'kind-faultline-old', kubeconfigPath: '/fake', createdByFaultline: true };
    const report = await runSuite([fakeScenario()], deps, { runId: 'run-deploy-abort', target: { mode: 'reuse', ref }, keep: false, signal: ctrl.signal });
    const st = Object.fromEntries(report.scenarios[0]!.stages.map((s) => [s.name, s]));
    expect(st.deploy!.status).toBe('interrupted');
    expect(st.teardown!.status).toBe('passed');
    expect(deployer.removed).toEqual(['victim']);
    expect(w.calls).not.toContain('fault.apply');
    // the namespace was journaled before it was made, and its entry settled once teardown removed it
    expect(w.calls.filter((c) => c.startsWith('namespace.'))).toEqual(['namespace.create victim', 'namespace.delete victim']);
    const j = JSON.parse(readFileSync(`${tmp.path}/journal/run-deploy-abort.json`, 'utf8'));
    expect(j.entries.map((e: any) => `${e.id} ${e.faultType} ${e.state}`)).toEqual(['fake-scenario-namespace victim-namespace reverted']);
  });

  test('fake --keep: the namespace entry is closed as kept, never reverted', async () => {
    const w = fakeWorld({ firesAfterPolls: 1 });
    const { deployer, deps } = setup(w);
    (deployer as Deployer).deploy = async (_ctx, _sc, _s, createNamespace) => {
      await createNamespace('victim');
      return { createdNamespace: true, message: 'fake deployed' };
    };
    const ref = { provider: 'kind' as const, name: 'faultline-k', context: 'kind-faultline-k', kubeconfigPath: '/fake', createdByFaultline: true };
    await runSuite([fakeScenario()], deps, { runId: 'run-ns-keep', target: { mode: 'reuse', ref }, keep: true, signal: new AbortController().signal });
    const [ns] = JSON.parse(readFileSync(`${tmp.path}/journal/run-ns-keep.json`, 'utf8')).entries;
    expect([ns.state, ns.error]).toEqual(['closed', 'kept with --keep']);
    expect(w.calls).not.toContain('namespace.delete victim');
  });
});

describe('engine with fakes: victim.setup and recovery "self"', () => {
  test('set-up faults are journalled before the deploy and reverted after the fault, newest first', async () => {
    const w = fakeWorld({ firesAfterPolls: 1 });
    const { deps } = setup(w);
    // a set-up that changes nothing the fake detector sees (the fake fault would make the steady state noisy)
    deps.registries.faults.set('fake-setup', {
      ...deps.registries.faults.get('fake-fault')!,
      type: 'fake-setup',
      apply: async () => void w.calls.push('setup.apply'),
      revert: async (_ctx: unknown, r: { token: string }) => void w.calls.push(`fault.revert ${r.token}`),
    });
    const sc0 = fakeScenario();
    sc0.victim.setup = [{ type: 'fake-setup', params: { target: 'env' } }];
    const report = await runSuite([sc0], deps, { runId: 'run-setup', target: { mode: 'create', name: 'faultline-s' }, keep: false, signal: new AbortController().signal });
    expect(report.scenarios[0]!.status).toBe('passed');
    expect(w.calls).toContain('setup.apply');
    expect(w.calls.indexOf('setup.apply')).toBeLessThan(w.calls.indexOf('fault.apply'));
    expect(w.calls.filter((c) => c.startsWith('fault.revert'))).toEqual(['fault.revert undo-x', 'fault.revert undo-env']);
    const journal = JSON.parse(readFileSync(`${tmp.path}/journal/run-setup.json`, 'utf8'));
    expect(journal.entries.map((e: any) => [e.id, e.state])).toEqual([
      ['fake-scenario-setup-1', 'reverted'],
      ['fake-scenario-2', 'reverted'],
    ]);
  });

  test("a fault whose revert fails does not keep the set-up from being reverted; the stage fails naming it", async () => {
    const w = fakeWorld({ firesAfterPolls: 1 });
    const { deps } = setup(w);
    const fault = deps.registries.faults.get('fake-fault')!;
    deps.registries.faults.set('fake-fault', { ...fault, revert: async () => Promise.reject(new Error('node gone')) });
    deps.registries.faults.set('fake-setup', { ...fault, type: 'fake-setup', apply: async () => void w.calls.push('setup.apply'), revert: async () => void w.calls.push('setup.revert') });
    const sc0 = fakeScenario();
    sc0.victim.setup = [{ type: 'fake-setup', params: { target: 'env' } }];
    // --keep: the cluster stays, so the failed entry stays open for `faultline recover`
    const report = await runSuite([sc0], deps, { runId: 'run-setup-fail', target: { mode: 'create', name: 'faultline-s' }, keep: true, signal: new AbortController().signal });
    const revert = report.scenarios[0]!.stages.find((st) => st.name === 'revert')!;
    expect(revert.status).toBe('failed');
    expect(revert.message).toMatch(/revert failed for fake-scenario-2: node gone \(fake-scenario-setup-1 reverted\)/);
    expect(w.calls).toContain('setup.revert');
    const journal = JSON.parse(readFileSync(`${tmp.path}/journal/run-setup-fail.json`, 'utf8'));
    expect(journal.entries.map((e: any) => [e.id, e.state])).toEqual([
      ['fake-scenario-setup-1', 'reverted'],
      ['fake-scenario-2', 'revert-failed'],
    ]);
  });

  test('a revert that failed on a cluster teardown then deleted: the entry is closed with the reason, not left open', async () => {
    const w = fakeWorld({ firesAfterPolls: 1 });
    const { deps, provider } = setup(w);
    const fault = deps.registries.faults.get('fake-fault')!;
    deps.registries.faults.set('fake-fault', { ...fault, revert: async () => Promise.reject(new Error('node gone')) });
    const report = await runSuite([fakeScenario()], deps, { runId: 'run-closed', target: { mode: 'create', name: 'faultline-c' }, keep: false, signal: new AbortController().signal });
    expect(provider.deleted).toEqual(['faultline-c']);
    const teardown = report.scenarios[0]!.stages.find((st) => st.name === 'teardown')!;
    expect(teardown.message).toMatch(/deleted cluster faultline-c; closed the journal\(s\) run-closed: their cluster is gone/);
    const [entry] = JSON.parse(readFileSync(`${tmp.path}/journal/run-closed.json`, 'utf8')).entries;
    expect(entry.state).toBe('closed');
    expect(entry.error).toBe('cluster faultline-c was deleted by run run-closed (was revert-failed: node gone)');
  });

  test('two runs on one cluster: the second is refused while the first holds it, naming the first', async () => {
    const w = fakeWorld({ firesAfterPolls: 1 });
    const { deps } = setup(w);
    const ref = { provider: 'kind' as const, name: 'faultline-shared', context: 'kind-faultline-shared', kubeconfigPath: '/fake', createdByFaultline: true };
    let second: Promise<unknown> | undefined;
    const fault = deps.registries.faults.get('fake-fault')!;
    deps.registries.faults.set('fake-fault', {
      ...fault,
      async apply(...args) {
        await fault.apply(...args);
        second ??= runSuite([fakeScenario()], deps, { runId: 'run-b', target: { mode: 'reuse', ref }, keep: true, signal: new AbortController().signal, command: 'faultline run b' });
        await second.catch(() => undefined);
      },
    });
    const first = await runSuite([fakeScenario()], deps, { runId: 'run-a', target: { mode: 'reuse', ref }, keep: true, signal: new AbortController().signal, command: 'faultline run a' });
    expect(first.scenarios[0]!.status).toBe('passed');
    await expect(second).rejects.toThrow(new RegExp(`cluster faultline-shared is in use by pid ${process.pid} \\(faultline run a, since `));
  });

  test('recovery "self": detect, diagnose and remediate skipped; verify passes on its own; TTR from the end of inject', async () => {
    const w = fakeWorld({ firesAfterPolls: 1 });
    const { deps } = setup(w);
    // the fake cluster heals itself once the fault is in
    deps.registries.runbooks.get('fake-runbook')!.verify = async () => ({ ok: w.applied, details: ['healed'] });
    const report = await runSuite([fakeScenario({ recovery: 'self' })], deps, { runId: 'run-self', target: { mode: 'create', name: 'faultline-h' }, keep: false, signal: new AbortController().signal });
    expect(report.scenarios[0]!.recovery).toBe('self');
    const sc = report.scenarios[0]!;
    const st = Object.fromEntries(sc.stages.map((s) => [s.name, s]));
    expect(sc.status).toBe('passed');
    for (const n of ['detect', 'diagnose', 'remediate']) expect(st[n]!.message).toMatch(/skipped: recovery "self"/);
    expect(st.verify!.message).toMatch(/^recovered on its own/);
    expect(sc.ttdSeconds).toBeNull();
    expect(sc.ttrSeconds).not.toBeNull();
    expect(w.calls).not.toContain('runbook.remediate');
  });

  test('recovery "self" that does not heal fails verify on its deadline', async () => {
    const w = fakeWorld({ firesAfterPolls: 1 });
    const { deps } = setup(w);
    const report = await runSuite([fakeScenario({ recovery: 'self' })], deps, { runId: 'run-noheal', target: { mode: 'create', name: 'faultline-n' }, keep: false, signal: new AbortController().signal });
    const sc = report.scenarios[0]!;
    expect(sc.status).toBe('failed');
    expect(sc.reason).toMatch(/^verify failed/);
    expect(w.applied).toBe(false); // reverted all the same
  });
});

describe('engine with fakes: load phases (FAKE load probe)', () => {
  function probeRegistry(w: FakeWorld, failDuring: 'throw' | 'failures' | 'none') {
    const probe = {
      id: 'fake-load',
      description: 'fake',
      paramsSchema: z.object({}),
      run: async (_ctx: unknown, _p: unknown, run: { phase: 'before' | 'during' | 'after'; signal: AbortSignal }) => {
        w.calls.push(`load.${run.phase}`);
        if (run.phase === 'during' && failDuring === 'throw') throw new Error('k6 exited 107');
        const failed = run.phase === 'during' && failDuring === 'failures' ? 3 : 0;
        return { probe: 'fake-load', phase: run.phase, target: 'x', startedAt: new Date().toISOString(), seconds: 1, requests: 10, failed, failureRate: failed / 10, errors: [] };
      },
    };
    return new Map([['fake-load', probe]]);
  }

  test('before, during and after are recorded; failures during the fault are expected, none after', async () => {
    const w = fakeWorld({ firesAfterPolls: 1 });
    const { deps } = setup(w);
    const report = await runSuite(
      [fakeScenario({ load: { probe: 'fake-load', params: {}, beforeSeconds: 1, duringSeconds: 1, afterSeconds: 1, requireCleanAfter: true } })],
      { ...deps, registries: { ...deps.registries, loadProbes: probeRegistry(w, 'failures') } },
      { runId: 'run-load', target: { mode: 'create', name: 'faultline-l' }, keep: false, signal: new AbortController().signal },
    );
    const sc = report.scenarios[0]!;
    expect(sc.status).toBe('passed');
    expect(sc.load!.map((l) => [l.phase, l.failed])).toEqual([['before', 0], ['during', 3], ['after', 0]]);
  });

  test('a probe that breaks during the fault does not fail detection', async () => {
    const w = fakeWorld({ firesAfterPolls: 1 });
    const { deps } = setup(w);
    const report = await runSuite(
      [fakeScenario({ load: { probe: 'fake-load', params: {}, beforeSeconds: 1, duringSeconds: 1, afterSeconds: 1, requireCleanAfter: true } })],
      { ...deps, registries: { ...deps.registries, loadProbes: probeRegistry(w, 'throw') } },
      { runId: 'run-load-throw', target: { mode: 'create', name: 'faultline-l' }, keep: false, signal: new AbortController().signal },
    );
    const sc = report.scenarios[0]!;
    expect(sc.stages.find((st) => st.name === 'detect')!.status).toBe('passed');
    expect(sc.ttdSeconds).not.toBeNull();
    expect(w.calls).toContain('load.during');
  });
});

describe('engine with fakes: the reset between two scenarios on one cluster (FAKE clean check)', () => {
  const base: ClusterState = { capturedAt: 'x', namespaces: ['default'], kubeSystem: {}, notReady: [], managed: [], clusterObjects: [], nodes: {} };
  function check(answers: string[][]) {
    const calls: string[] = [];
    return {
      calls,
      cleanCheck: {
        capture: async (ref: { name: string }) => (calls.push(`capture ${ref.name}`), base),
        left: async (ref: { name: string }) => (calls.push(`left ${ref.name}`), answers.shift() ?? []),
      },
    };
  }
  const two = () => [fakeScenario(), fakeScenario({ id: 'second' })];

  test('a cluster proven as it was is reused, and the provision stage says so', async () => {
    const w = fakeWorld();
    const { provider, deps } = setup(w);
    const c = check([[]]);
    const report = await runSuite(two(), deps, { runId: 'run-reset', target: { mode: 'create', name: 'faultline-r' }, keep: false, signal: new AbortController().signal, cleanCheck: c.cleanCheck });
    expect(report.scenarios.map((s) => [s.status, s.reason])).toEqual([['passed', undefined], ['passed', undefined]]);
    expect(c.calls).toEqual(['capture faultline-r', 'left faultline-r']);
    expect(provider.created).toHaveLength(1);
    expect(report.scenarios[1]!.stages[0]!.message).toMatch(/reusing cluster faultline-r: proven as it was before fake-scenario/);
  });

  test('a cluster the run made that is not proven clean is replaced, and the report names what was left', async () => {
    const w = fakeWorld();
    const { provider, deps } = setup(w);
    const c = check([['namespace victim (Terminating) was not there before']]);
    const report = await runSuite(two(), deps, { runId: 'run-replace', target: { mode: 'create', name: 'faultline-r' }, keep: false, signal: new AbortController().signal, cleanCheck: c.cleanCheck });
    expect(report.scenarios.map((s) => [s.status, s.reason])).toEqual([['passed', undefined], ['passed', undefined]]);
    expect(w.calls.filter((x) => /^provider\.(create|delete)/.test(x))).toEqual(['provider.create faultline-r', 'provider.delete faultline-r', 'provider.create faultline-r', 'provider.delete faultline-r']);
    expect(c.calls).toEqual(['capture faultline-r', 'left faultline-r', 'capture faultline-r']);
    expect(report.scenarios[1]!.stages[0]!.message).toMatch(/^replaced cluster faultline-r, not proven clean after fake-scenario: namespace victim \(Terminating\) was not there before; created kind cluster faultline-r/);
    expect(provider.deleted).toHaveLength(2);
  });

  test('a cluster the user named is never replaced: the report says it was not proven clean', async () => {
    const w = fakeWorld();
    const { provider, deps } = setup(w);
    const c = check([['node n1: /etc/kubernetes/manifests/etcd.yaml changed']]);
    const ref = { provider: 'kind' as const, name: 'faultline-mine', context: 'kind-faultline-mine', kubeconfigPath: '/fake', createdByFaultline: true };
    const report = await runSuite(two(), deps, { runId: 'run-named', target: { mode: 'reuse', ref }, keep: false, signal: new AbortController().signal, cleanCheck: c.cleanCheck });
    expect(provider.created).toEqual([]);
    expect(provider.deleted).toEqual([]);
    expect(report.scenarios[1]!.stages[0]!.message).toMatch(/not proven clean after fake-scenario: node n1: .*etcd.yaml changed \(faultline replaces only clusters its run made\)/);
  });

  test('one scenario takes no baseline; --keep checks nothing (it leaves the namespaces by design)', async () => {
    const w = fakeWorld();
    const { deps } = setup(w);
    const c = check([]);
    await runSuite([fakeScenario()], deps, { runId: 'run-one', target: { mode: 'create', name: 'faultline-o' }, keep: false, signal: new AbortController().signal, cleanCheck: c.cleanCheck });
    await runSuite(two(), setup(fakeWorld()).deps, { runId: 'run-kept', target: { mode: 'create', name: 'faultline-k' }, keep: true, signal: new AbortController().signal, cleanCheck: c.cleanCheck });
    expect(c.calls).toEqual([]);
  });
});
