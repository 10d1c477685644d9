// Journals, locks and `recover` with a FAKE fault and FAKE cluster listers (helpers/fakes.ts); no cluster is
// contacted. Live owners are real child processes, so PID and start-time checks run against the real /proc.
import { afterEach, describe, expect, test } from '@jest/globals';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { kubeconfigPathFor } from '../../harness/cluster/naming.js';
import { lockCluster } from '../../harness/cluster/ownership.js';
import { recordCluster } from '../../harness/cluster/records.js';
import type { ClusterRef } from '../../harness/cluster/types.js';
import { acquireLock, LockHeld } from '../../harness/core/lock.js';
import { identityAlive, pidAlive, processStartTime } from '../../harness/core/processes.js';
import { closeJournalsOf, listJournals, RunJournal } from '../../harness/engine/journal.js';
import { leftOpen, recover, type RecoverDeps } from '../../harness/engine/recover.js';
import { revertEntries } from '../../harness/engine/revert.js';
import { FAKE_KUBE, FakeProvider, fakeFault, fakeWorld, type FakeWorld } from './helpers/fakes.js';
import { useTempStateDir } from './helpers/tmp.js';

const tmp = useTempStateDir();
const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) c.kill('SIGKILL');
});

const NAME = 'faultline-x';

/** A cluster faultline made, as far as the record goes: recorded, with its kubeconfig under the state dir. */
function ownedCluster(name = NAME): ClusterRef {
  const ref: ClusterRef = { provider: 'kind', name, context: `kind-${name}`, kubeconfigPath: kubeconfigPathFor('kind', name), createdByFaultline: true };
  mkdirSync(join(tmp.path, 'kubeconfigs'), { recursive: true });
  writeFileSync(ref.kubeconfigPath, 'apiVersion: v1\n');
  recordCluster(ref);
  return ref;
}

/** a pid that certainly belongs to no running process: a child that has already exited */
function deadPid(): number {
  return Number(spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).stdout.toString());
}

/** a live process that is not this one */
function liveChild(): ChildProcess {
  const c = spawn('sleep', ['60'], { stdio: 'ignore' });
  children.push(c);
  return c;
}

function deps(w: FakeWorld, clusters: string[] = [NAME], extra: Partial<RecoverDeps> = {}): RecoverDeps {
  return {
    faults: new Map([['fake-fault', fakeFault(w)]]),
    connect: () => FAKE_KUBE,
    provider: () => new FakeProvider(w),
    listerFor: () => ({ kind: 'kind', list: async () => clusters }),
    log: () => {},
    ...extra,
  };
}

/** A journal left by a run that was killed: its entries, its lock file still there with a dead owner. */
function killedRun(runId: string, ref: ClusterRef, states: Array<'planned' | 'applied' | 'reverted'> = ['applied']): string {
  const j = RunJournal.create(runId, ref, { command: `faultline run (run ${runId})`, allowedBy: 'created' });
  states.forEach((state, i) => j.add({ id: `e${i + 1}`, faultType: 'fake-fault', params: {}, record: { token: `undo-${i + 1}` }, state }));
  const raw = JSON.parse(readFileSync(j.path, 'utf8'));
  raw.pid = deadPid();
  writeFileSync(j.path, JSON.stringify(raw));
  writeFileSync(j.lockPath, JSON.stringify({ pid: raw.pid, startTime: '1', command: 'faultline run', since: raw.startedAt, token: 't' }));
  return j.path;
}

describe('processes and locks', () => {
  test('a PID is the same process only with the same start time (PID reuse)', () => {
    const c = liveChild();
    const start = processStartTime(c.pid!);
    expect(start).toMatch(/^\d+$/);
    expect(identityAlive({ pid: c.pid!, startTime: start })).toBe(true);
    expect(identityAlive({ pid: c.pid!, startTime: '1' })).toBe(false); // the PID now names another process
    expect(identityAlive({ pid: deadPid(), startTime: null })).toBe(false);
    expect(pidAlive(process.pid)).toBe(true);
  });

  test('a lock held by a live process is refused with its owner; a stale one is taken over', () => {
    const path = join(tmp.path, 'locks', 'x.lock');
    const first = acquireLock(path, 'faultline run a');
    expect(() => acquireLock(path, 'faultline run b')).toThrow(LockHeld);
    try {
      acquireLock(path, 'faultline run b');
    } catch (err) {
      expect((err as LockHeld).owner).toMatchObject({ pid: process.pid, command: 'faultline run a' });
    }
    first.release();
    writeFileSync(path, JSON.stringify({ pid: deadPid(), startTime: null, command: 'old', since: 'then', token: 'z' }));
    const taken = acquireLock(path, 'faultline run c');
    expect(JSON.parse(readFileSync(path, 'utf8')).command).toBe('faultline run c');
    taken.release();
    expect(existsSync(path)).toBe(false);
  });
});

describe('journal', () => {
  test('add() leaves a complete file on disk and no temp files; the lock goes with close()', () => {
    const ref = ownedCluster();
    const j = RunJournal.create('run-1', ref);
    j.add({ id: 'e1', faultType: 'fake-fault', params: { target: 'x' }, record: { token: 'undo-x' } });
    const dir = join(tmp.path, 'journal');
    expect(readdirSync(dir).sort()).toEqual(['run-1.json', 'run-1.lock']);
    const onDisk = JSON.parse(readFileSync(join(dir, 'run-1.json'), 'utf8'));
    expect(onDisk).toMatchObject({ runId: 'run-1', pid: process.pid, startTime: processStartTime(process.pid), cluster: ref, entries: [{ id: 'e1', state: 'planned', record: { token: 'undo-x' } }] });
    j.setState('e1', 'applied');
    expect(RunJournal.load(join(dir, 'run-1.json')).file.entries[0]!.state).toBe('applied');
    j.close();
    expect(readdirSync(dir)).toEqual(['run-1.json']);
  });

  test('an error written into a journal is redacted', () => {
    const j = RunJournal.create('run-r', ownedCluster());
    j.add({ id: 'e1', faultType: 'fake-fault', params: {}, record: {} });
    j.setState('e1', 'revert-failed', 'API said: password=hunter2-long');
    expect(readFileSync(j.path, 'utf8')).not.toContain('hunter2');
    j.close();
  });
});

describe('recover (fake fault)', () => {
  test('reverts the entries of a killed run newest first, marks them, and is idempotent', async () => {
    const ref = ownedCluster();
    killedRun('run-killed', ref, ['applied', 'planned', 'reverted']);
    const w = fakeWorld();
    const out = await recover(deps(w));
    expect(out.outcomes).toHaveLength(1);
    expect(out.outcomes[0]!.reverted).toEqual(['e2: fake undo undo-2', 'e1: fake undo undo-1']);
    expect(w.calls).toEqual(['fault.revert undo-2', 'fault.revert undo-1']);
    expect(leftOpen(out)).toBe(false);
    expect(listJournals().journals[0]!.file.entries.map((e) => e.state)).toEqual(['reverted', 'reverted', 'reverted']);
    const again = await recover(deps(w));
    expect(again.outcomes).toEqual([]);
    expect(w.calls).toHaveLength(2);
  });

  test("refuses a live run's journal, says whose it is, and leaves its file as the run wrote it", async () => {
    const ref = ownedCluster();
    const live = RunJournal.create('run-live', ref, { command: 'faultline run statefulset-env-conflict (run run-live)', allowedBy: 'created' });
    live.add({ id: 'e1', faultType: 'fake-fault', params: {}, record: { token: 'undo-1' }, state: 'applied' });
    const before = readFileSync(live.path, 'utf8');
    const w = fakeWorld();
    const out = await recover(deps(w));
    expect(out.outcomes[0]!.skipped).toMatch(new RegExp(`run is still going: pid ${process.pid} \\(faultline run statefulset-env-conflict \\(run run-live\\), since `));
    expect(leftOpen(out)).toBe(true);
    expect(w.calls).toEqual([]);
    expect(readFileSync(live.path, 'utf8')).toBe(before);
    // the live run goes on writing: nothing it wrote is lost
    live.add({ id: 'e2', faultType: 'fake-fault', params: {}, record: { token: 'undo-2' } });
    expect(listJournals().journals[0]!.file.entries.map((e) => e.id)).toEqual(['e1', 'e2']);
    live.close();
  });

  test('a journal whose owner PID was reused by another process is recovered', async () => {
    const ref = ownedCluster();
    const path = killedRun('run-reused', ref);
    const other = liveChild();
    const raw = JSON.parse(readFileSync(path, 'utf8'));
    raw.pid = other.pid;
    raw.startTime = '1'; // not the start time of the process that holds the PID now
    writeFileSync(path, JSON.stringify(raw));
    writeFileSync(path.replace(/\.json$/, '.lock'), JSON.stringify({ pid: other.pid, startTime: '1', command: 'x', since: 'then', token: 't' }));
    const out = await recover(deps(fakeWorld()));
    expect(out.outcomes[0]!.reverted).toEqual(['e1: fake undo undo-1']);
  });

  test('unparsable journals and one with entries: null are named; the good one is still recovered; left open', async () => {
    const ref = ownedCluster();
    killedRun('run-good', ref);
    const dir = join(tmp.path, 'journal');
    writeFileSync(join(dir, 'run-torn.json'), '{"runId": "run-torn", "entr');
    const nulled = JSON.parse(readFileSync(killedRun('run-null', ref), 'utf8'));
    nulled.entries = null;
    writeFileSync(join(dir, 'run-null.json'), JSON.stringify(nulled));
    const w = fakeWorld();
    const out = await recover(deps(w));
    expect(out.outcomes.map((o) => `${o.runId}: ${o.reverted.join(',')}`)).toEqual(['run-good: e1: fake undo undo-1']);
    expect(out.bad.map((b) => b.path.split('/').pop())).toEqual(['run-null.json', 'run-torn.json']);
    expect(out.bad[0]!.reason).toMatch(/field entries/);
    expect(out.bad[1]!.reason).toMatch(/not JSON/);
    expect(leftOpen(out)).toBe(true);
  });

  test('a revert that throws is marked revert-failed, stays open for the next recover, and counts as left open', async () => {
    const ref = ownedCluster();
    killedRun('run-fail', ref);
    const w = fakeWorld();
    const broken = { ...fakeFault(w), revert: async () => { throw new Error('fake API down'); } };
    const out = await recover({ ...deps(w), faults: new Map([['fake-fault', broken]]) });
    expect(out.outcomes[0]!.failed).toEqual(['e1: fake API down']);
    expect(leftOpen(out)).toBe(true);
    expect(listJournals().journals[0]!.openEntries().map((e) => e.state)).toEqual(['revert-failed']);
  });

  test('a cluster in use by another live process is not touched', async () => {
    const ref = ownedCluster();
    killedRun('run-busy', ref);
    const lock = lockCluster(ref, 'faultline run other');
    const w = fakeWorld();
    const out = await recover(deps(w));
    expect(out.outcomes[0]!.skipped).toMatch(/cluster faultline-x is in use by pid \d+ \(faultline run other\)/);
    expect(w.calls).toEqual([]);
    expect(leftOpen(out)).toBe(true);
    lock.release();
  });
});

describe('recover checks whose cluster it changes', () => {
  test('a journal of a run allowed by --allow-context needs the same allow to be recovered', async () => {
    const ref: ClusterRef = { provider: 'existing', name: 'staging', context: 'staging', kubeconfigPath: '/k', createdByFaultline: false };
    const j = RunJournal.create('run-staging', ref, { allowedBy: 'allow-context' });
    j.add({ id: 'e1', faultType: 'fake-fault', params: {}, record: { token: 'undo-1' }, state: 'applied' });
    j.close();
    const w = fakeWorld();
    const refused = await recover(deps(w));
    expect(refused.outcomes[0]!.skipped).toMatch(/context staging, which faultline did not create; pass --allow-context staging/);
    expect(w.calls).toEqual([]);
    const allowed = await recover(deps(w), { allowContexts: ['staging'] });
    expect(allowed.outcomes[0]!.reverted).toEqual(['e1: fake undo undo-1']);
  });

  test('a hand-edited record (kubeconfig outside the state dir) does not let recover in', async () => {
    const ref = { ...ownedCluster(), kubeconfigPath: '/etc/hostname' };
    recordCluster(ref);
    killedRun('run-forged', ref);
    const w = fakeWorld();
    const out = await recover(deps(w));
    expect(out.outcomes[0]!.skipped).toMatch(/record of cluster faultline-x is not trusted: its kubeconfig \/etc\/hostname is not one faultline wrote/);
    expect(w.calls).toEqual([]);
  });

  test('a journal whose cluster is gone is closed with the reason, and its stale record forgotten', async () => {
    const ref = ownedCluster();
    killedRun('run-gone', ref);
    const w = fakeWorld();
    const out = await recover(deps(w, []));
    expect(out.outcomes[0]!.closed).toEqual(['e1']);
    expect(leftOpen(out)).toBe(false);
    const e = listJournals().journals[0]!.file.entries[0]!;
    expect(e.state).toBe('closed');
    expect(e.error).toMatch(/cluster faultline-x no longer exists/);
    expect(existsSync(ref.kubeconfigPath)).toBe(false);
  });
});

describe('revertEntries', () => {
  test('a journal that cannot be written stops no revert and hides no error', async () => {
    const w = fakeWorld();
    const failing = { setState: () => { throw new Error('disk full'); } } as unknown as RunJournal;
    const broken = { ...fakeFault(w), type: 'broken', revert: async () => { throw new Error('fake API down'); } };
    const faults = new Map<string, any>([['fake-fault', fakeFault(w)], ['broken', broken]]);
    const entries = [
      { id: 'e1', faultType: 'fake-fault', params: {}, record: { token: 'undo-1' }, state: 'applied' as const, at: '' },
      { id: 'e2', faultType: 'broken', params: {}, record: {}, state: 'applied' as const, at: '' },
      { id: 'e3', faultType: 'fake-fault', params: {}, record: { token: 'undo-3' }, state: 'applied' as const, at: '' },
    ];
    const ctx = { runId: 'r', cluster: ownedCluster(), kube: FAKE_KUBE, provider: new FakeProvider(w), log: () => {} };
    const res = await revertEntries(ctx, entries, faults, failing);
    expect(w.calls).toEqual(['fault.revert undo-3', 'fault.revert undo-1']);
    expect(res.failed).toEqual([
      { id: 'e3', error: 'reverted, but the journal could not record it: disk full' },
      { id: 'e2', error: 'fake API down; the journal could not record it: disk full' },
      { id: 'e1', error: 'reverted, but the journal could not record it: disk full' },
    ]);
  });
});

describe('closeJournalsOf', () => {
  test('closes open entries of a deleted cluster with the reason; other clusters and live runs are left', () => {
    const ref = ownedCluster();
    killedRun('run-a', ref);
    const live = RunJournal.create('run-live', ref);
    live.add({ id: 'e1', faultType: 'fake-fault', params: {}, record: {}, state: 'revert-failed' });
    killedRun('run-other', ownedCluster('faultline-y'));
    expect(closeJournalsOf(ref, 'cluster faultline-x was deleted by run T')).toEqual(['run-a']);
    const byId = Object.fromEntries(listJournals().journals.map((j) => [j.file.runId, j.file.entries.map((e) => e.state)]));
    expect(byId).toEqual({ 'run-a': ['closed'], 'run-live': ['revert-failed'], 'run-other': ['applied'] });
    // a run closes its own journal through its own handle
    expect(closeJournalsOf(ref, 'deleted', [live])).toEqual(['run-live']);
    expect(live.file.entries[0]!.state).toBe('closed');
    live.close();
  });
});
