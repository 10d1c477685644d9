// The CLI's signal handling with a FAKE process (handlers registered into a map, exit recorded): no signal is
// really sent.
import { describe, expect, test } from '@jest/globals';
import { EXIT, TRAPPED_SIGNALS, signalExit, trapSignals } from '../../harness/cli/common.js';
import { leftBehindBy } from '../../harness/cli/commands/run.js';
import { recordCluster } from '../../harness/cluster/records.js';
import { RunJournal } from '../../harness/engine/journal.js';
import { useTempStateDir } from './helpers/tmp.js';

useTempStateDir();

function fakeProcess(left: string[], undo: string[]) {
  const handlers = new Map<string, (sig: any) => void>();
  const lines: string[] = [];
  const exits: number[] = [];
  const deps = {
    leftBehind: () => left,
    undo: () => undo,
    on: (sig: string, h: (s: any) => void) => void handlers.set(sig, h),
    off: (sig: string) => void handlers.delete(sig),
    exit: (code: number) => void exits.push(code),
    write: (l: string) => void lines.push(l),
  };
  return { handlers, lines, exits, deps };
}

describe('signals', () => {
  test('SIGINT, SIGTERM and SIGHUP are all trapped: the first aborts the run, which then reverts', () => {
    for (const sig of TRAPPED_SIGNALS) {
      const p = fakeProcess([], []);
      const ctrl = new AbortController();
      const untrap = trapSignals(ctrl, p.deps);
      expect([...p.handlers.keys()].sort()).toEqual(['SIGHUP', 'SIGINT', 'SIGTERM']);
      p.handlers.get(sig)!(sig);
      expect(ctrl.signal.aborted).toBe(true);
      expect(ctrl.signal.reason).toBe(sig);
      expect(p.exits).toEqual([]);
      expect(p.lines[0]).toMatch(new RegExp(`^${sig} received; stopping the current stage, then reverting`));
      untrap();
      expect(p.handlers.size).toBe(0);
    }
    expect([signalExit('SIGINT'), signalExit('SIGTERM'), signalExit('SIGHUP')]).toEqual([EXIT.sigint, EXIT.sigterm, EXIT.sighup]);
  });

  test('a second signal exits at once and says exactly what is left and how to undo it', () => {
    const p = fakeProcess(
      ['fault statefulset-env-conflict-1 (statefulset-env-conflict, applied) on cluster faultline-1', 'cluster faultline-1'],
      ['faultline recover --run r1', 'faultline cluster down faultline-1'],
    );
    trapSignals(new AbortController(), p.deps);
    p.handlers.get('SIGTERM')!('SIGTERM');
    p.handlers.get('SIGHUP')!('SIGHUP');
    expect(p.exits).toEqual([EXIT.sighup]);
    expect(p.lines.slice(1)).toEqual([
      'SIGHUP again: exiting before the revert finished; left in place: fault statefulset-env-conflict-1 (statefulset-env-conflict, applied) on cluster faultline-1; cluster faultline-1',
      'undo it with: faultline recover --run r1 && faultline cluster down faultline-1',
    ]);
  });

  test('a second signal with nothing left says so', () => {
    const p = fakeProcess([], []);
    trapSignals(new AbortController(), p.deps);
    p.handlers.get('SIGINT')!('SIGINT');
    p.handlers.get('SIGINT')!('SIGINT');
    expect(p.lines[1]).toBe("SIGINT again: exiting; nothing faultline changed is left in place");
    expect(p.exits).toEqual([EXIT.sigint]);
  });

  test('what is left is read from disk at that moment: open entries of this run and clusters it created', () => {
    const ref = { provider: 'kind' as const, name: 'faultline-120000-ab12', context: 'kind-faultline-120000-ab12', kubeconfigPath: '/k', createdByFaultline: true };
    recordCluster(ref);
    recordCluster({ ...ref, name: 'faultline-other', context: 'kind-faultline-other' });
    const j = RunJournal.create('20250101-120000-ab12', ref);
    j.add({ id: 'etcd-slow-disk-1', faultType: 'etcd-fsync-delay', params: {}, record: {}, state: 'applied' });
    j.add({ id: 'etcd-slow-disk-setup-1', faultType: 'x', params: {}, record: {}, state: 'reverted' });
    const d = leftBehindBy('20250101-120000-ab12', { mode: 'create', name: 'faultline-120000-ab12' });
    expect(d.leftBehind()).toEqual(['fault etcd-slow-disk-1 (etcd-fsync-delay, applied) on cluster faultline-120000-ab12', 'cluster faultline-120000-ab12']);
    expect(d.undo()).toEqual(['faultline recover --run 20250101-120000-ab12', 'faultline cluster down faultline-120000-ab12']);
    j.close();
  });
});
