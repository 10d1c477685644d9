// revert and teardown: always, whatever happened before, and without the run's signal, so Ctrl-C still cleans up.
import { revertEntries } from '../revert.js';
import type { RunState, Stage } from '../run-state.js';

export const revertStage: Stage = {
  name: 'revert',
  always: true,
  async run(st, s) {
    if (st.injected.length === 0) return 'nothing was injected';
    const res = await revertEntries(st.ctx(s), st.injected, st.deps.registries.faults, st.journal);
    const done = res.reverted.map((r) => `${r.id} reverted`);
    if (res.failed.length > 0) {
      throw new Error(`revert failed for ${res.failed.map((f) => `${f.id}: ${f.error}`).join('; ')}${done.length ? ` (${done.join('; ')})` : ''}`);
    }
    return done.join('; ');
  },
};

export const teardownStage: Stage = {
  name: 'teardown',
  always: true,
  async run(st, s) {
    const message = await st.input.teardown(st.base, st.createdNamespace)(s);
    await settleNamespaceEntry(st, s);
    return message;
  },
};

/** After teardown the namespace entry is settled: kept (--keep) closes it; otherwise its revert makes sure the
 *  namespace is gone (teardown normally deleted it already; a deleted cluster closed it). */
async function settleNamespaceEntry(st: RunState, s: Parameters<Stage['run']>[1]): Promise<void> {
  const entry = st.namespaceEntry && st.journal.file.entries.find((e) => e.id === st.namespaceEntry!.id);
  if (!entry || entry.state === 'reverted' || entry.state === 'closed') return;
  if (st.input.keep) return st.journal.setState(entry.id, 'closed', 'kept with --keep');
  if (!st.base) return;
  const res = await revertEntries(st.ctx(s), [entry], st.deps.registries.faults, st.journal);
  for (const f of res.failed) st.log(`namespace left in place: ${f.error}; \`faultline recover --run ${st.journal.file.runId}\` deletes it`);
}
