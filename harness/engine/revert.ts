// Reverting journal entries, shared by a run's revert stage and `faultline recover`: newest first (later faults
// may build on earlier ones), every entry attempted whatever happened to the one before, every error kept.
import type { RunContext } from '../cluster/context.js';
import { errorMessage } from '../core/errors.js';
import type { FaultRegistry } from '../faults/registry.js';
import type { EntryState, JournalEntry, RunJournal } from './journal.js';

export interface RevertResult {
  reverted: Array<{ id: string; what: string }>;
  failed: Array<{ id: string; error: string }>;
}

export async function revertEntries(ctx: RunContext, entries: JournalEntry[], faults: FaultRegistry, journal: RunJournal): Promise<RevertResult> {
  const out: RevertResult = { reverted: [], failed: [] };
  // a journal that cannot be written must not stop the next entry's revert, nor hide the revert's own error
  const mark = (id: string, state: EntryState, error?: string): string | undefined => {
    try {
      journal.setState(id, state, error);
      return undefined;
    } catch (err) {
      return `the journal could not record it: ${errorMessage(err)}`;
    }
  };
  for (const e of [...entries].reverse()) {
    const fault = faults.get(e.faultType);
    if (!fault) {
      const error = `unknown fault type ${e.faultType}`;
      const j = mark(e.id, 'revert-failed', error);
      out.failed.push({ id: e.id, error: j ? `${error}; ${j}` : error });
      continue;
    }
    try {
      await fault.revert(ctx, e.record);
    } catch (err) {
      const error = errorMessage(err);
      const j = mark(e.id, 'revert-failed', error);
      out.failed.push({ id: e.id, error: j ? `${error}; ${j}` : error });
      continue;
    }
    const j = mark(e.id, 'reverted');
    if (j) out.failed.push({ id: e.id, error: `reverted, but ${j}` });
    else out.reverted.push({ id: e.id, what: fault.describe(e.record) });
  }
  return out;
}

/** The order a run undoes its changes in, for entries given oldest first (as revertEntries takes them): its
 *  set-ups and faults newest first, then, at teardown, the victim namespace. A killed run's entries are put back in
 *  that order, so the namespace goes after cluster-scoped set-ups such as a webhook configuration whose rules
 *  would refuse the deletion of the namespace's objects. */
export function inRunOrder(entries: JournalEntry[]): JournalEntry[] {
  const ns = entries.filter((e) => e.faultType === 'victim-namespace');
  return [...ns, ...entries.filter((e) => e.faultType !== 'victim-namespace')];
}
