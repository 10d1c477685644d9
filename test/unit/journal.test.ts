// Journal durability and `recover` with a FAKE fault (helpers/fakes.ts); no cluster is contacted.
import { describe, expect, test } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pidAlive } from '../../harness/cluster/node-access.js';
import { listJournals, openRunJournal, RunJournal } from '../../harness/engine/journal.js';
import { recover } from '../../harness/engine/recover.js';
import type { ClusterRef } from '../../harness/cluster/types.js';
import { FAKE_KUBE, FakeProvider, fakeFault, fakeWorld } from './helpers/fakes.js';
import { useTempStateDir } from './helpers/tmp.js';

const tmp = useTempStateDir();

const cluster: ClusterRef = { provider: 'kind', name: 'faultline-x', context: 'kind-faultline-x', kubeconfigPath: '/fake/kc', createdByFaultline: true };

/** a pid that certainly belongs to no running process: a child that has already exited */
function deadPid(): number {
  return Number(spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).stdout.toString());
}

function rewrite(path: string, data: unknown): void {
  writeFileSync(path, JSON.stringify(data));
}

describe('journal', () => {
  test('add() leaves a complete file on disk and no temp files', () => {
    const j = openRunJournal('run-1', cluster);
    j.add({ id: 'e1', faultType: 'fake-fault', params: { target: 'x' }, record: { token: 'undo-x' } });
    const dir = join(tmp.path, 'journal');
    expect(readdirSync(dir)).toEqual(['run-1.json']);
    const onDisk = JSON.parse(readFileSync(join(dir, 'run-1.json'), 'utf8'));
    expect(onDisk).toMatchObject({ runId: 'run-1', pid: process.pid, cluster, entries: [{ id: 'e1', state: 'planned', record: { token: 'undo-x' } }] });
    j.setState('e1', 'applied');
    expect(RunJournal.load(join(dir, 'run-1.json')).file.entries[0]!.state).toBe('applied');
  });

  test('pidAlive: our pid is alive, an exited child is not', () => {
    expect(pidAlive(process.pid)).toBe(true);
    expect(pidAlive(deadPid())).toBe(false);
  });

  test('recover reverts the entries of a killed run (fake fault), marks them, and is idempotent', async () => {
    const j = openRunJournal('run-killed', cluster);
    j.add({ id: 'e1', faultType: 'fake-fault', params: {}, record: { token: 'undo-1' }, state: 'applied' });
    j.add({ id: 'e2', faultType: 'fake-fault', params: {}, record: { token: 'undo-2' } }); // planned: apply may have half-happened
    j.add({ id: 'e3', faultType: 'fake-fault', params: {}, record: { token: 'undo-3' }, state: 'reverted' });
    // simulate the run having been killed: its pid is gone
    const raw = JSON.parse(readFileSync(j.path, 'utf8'));
    raw.pid = deadPid();
    rewrite(j.path, raw);

    const w = fakeWorld();
    const connected: ClusterRef[] = [];
    const deps = {
      faults: new Map([['fake-fault', fakeFault(w)]]),
      connect: (ref: ClusterRef) => {
        connected.push(ref);
        return FAKE_KUBE;
      },
      provider: () => new FakeProvider(w),
      log: () => {},
    };
    const out = await recover(deps);
    expect(out).toHaveLength(1);
    expect(out[0]!.reverted).toEqual(['e2: fake undo undo-2', 'e1: fake undo undo-1']); // newest first
    expect(w.calls).toEqual(['fault.revert undo-2', 'fault.revert undo-1']);
    expect(connected).toEqual([cluster]); // the journaled cluster ref is used
    const after = listJournals()[0]!.file;
    expect(after.entries.map((e) => e.state)).toEqual(['reverted', 'reverted', 'reverted']);

    const again = await recover(deps);
    expect(again).toEqual([]);
    expect(w.calls).toHaveLength(2);
  });

  test('recover skips a journal whose process is alive unless forced', async () => {
    const j = openRunJournal('run-live', cluster);
    j.add({ id: 'e1', faultType: 'fake-fault', params: {}, record: { token: 'undo-live' }, state: 'applied' });
    const w = fakeWorld();
    const deps = { faults: new Map([['fake-fault', fakeFault(w)]]), connect: () => FAKE_KUBE, provider: () => new FakeProvider(w), log: () => {}, isAlive: () => true };
    const raw = JSON.parse(readFileSync(j.path, 'utf8'));
    raw.pid = 999_999; // "another live process" per isAlive above
    rewrite(j.path, raw);
    const skipped = await recover(deps);
    expect(skipped[0]!.skipped).toMatch(/still going \(pid 999999\); pass --force/);
    expect(w.calls).toEqual([]);
    const forced = await recover(deps, { force: true, runId: 'run-live' });
    expect(forced[0]!.reverted).toEqual(['e1: fake undo undo-live']);
  });

  test('a revert that throws is marked revert-failed and stays open for the next recover', async () => {
    const j = openRunJournal('run-fail', cluster);
    j.add({ id: 'e1', faultType: 'fake-fault', params: {}, record: { token: 'x' }, state: 'applied' });
    const w = fakeWorld();
    const broken = { ...fakeFault(w), revert: async () => { throw new Error('fake API down'); } };
    const out = await recover({ faults: new Map([['fake-fault', broken]]), connect: () => FAKE_KUBE, provider: () => new FakeProvider(w), log: () => {}, isAlive: () => false });
    expect(out[0]!.failed).toEqual(['e1: fake API down']);
    expect(listJournals()[0]!.openEntries().map((e) => e.state)).toEqual(['revert-failed']);
  });
});
