// The undo journal: one JSON file per run, rewritten atomically. A fault's record is on disk before the
// fault changes anything, so a run killed at any point can be undone by `faultline recover`.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { ClusterRef } from '../cluster/types.js';
import type { FaultRegistry } from '../faults/registry.js';
import type { RunContext } from '../cluster/context.js';
import { writeFileAtomic } from '../core/atomic.js';
import { stateDir } from '../core/paths.js';

export type EntryState = 'planned' | 'applied' | 'reverted' | 'revert-failed';

export interface JournalEntry {
  id: string;
  scenario?: string;
  faultType: string;
  params: unknown;
  record: unknown;
  state: EntryState;
  at: string;
  error?: string;
}

export interface JournalFile {
  runId: string;
  pid: number;
  startedAt: string;
  cluster: ClusterRef;
  entries: JournalEntry[];
}

export function journalDir(): string {
  return join(stateDir(), 'journal');
}

export function isOpen(entry: JournalEntry): boolean {
  return entry.state !== 'reverted';
}

export class RunJournal {
  private data: JournalFile;

  constructor(
    readonly path: string,
    runId: string,
    cluster: ClusterRef,
    private readonly now: () => Date = () => new Date(),
  ) {
    this.data = { runId, pid: process.pid, startedAt: now().toISOString(), cluster, entries: [] };
  }

  static load(path: string): RunJournal {
    const data = JSON.parse(readFileSync(path, 'utf8')) as JournalFile;
    const j = new RunJournal(path, data.runId, data.cluster);
    j.data = data;
    return j;
  }

  get file(): JournalFile {
    return this.data;
  }

  /** Adds an entry and makes it durable before returning. */
  add(entry: Omit<JournalEntry, 'at' | 'state'> & { state?: EntryState }): JournalEntry {
    const full: JournalEntry = { ...entry, state: entry.state ?? 'planned', at: this.now().toISOString() };
    this.data.entries.push(full);
    this.flush();
    return full;
  }

  setState(id: string, state: EntryState, error?: string): void {
    const e = this.data.entries.find((x) => x.id === id);
    if (!e) throw new Error(`journal ${this.data.runId} has no entry ${id}`);
    e.state = state;
    e.at = this.now().toISOString();
    if (error) e.error = error;
    else delete e.error;
    this.flush();
  }

  /** Hands the journal to this process (recover takes over a dead run's file). */
  adopt(): void {
    this.data.pid = process.pid;
    this.flush();
  }

  openEntries(): JournalEntry[] {
    return this.data.entries.filter(isOpen);
  }

  private flush(): void {
    writeFileAtomic(this.path, JSON.stringify(this.data, null, 2) + '\n');
  }
}

export function openRunJournal(runId: string, cluster: ClusterRef, dir = journalDir()): RunJournal {
  return new RunJournal(join(dir, `${runId}.json`), runId, cluster);
}

export function listJournals(dir = journalDir()): RunJournal[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json') && !f.startsWith('.'))
    .sort()
    .flatMap((f) => {
      try {
        return [RunJournal.load(join(dir, f))];
      } catch {
        return [];
      }
    });
}

/** Plan, journal (durable before the change: a run killed from here on is undone by `faultline recover`), apply.
 *  onJournaled sees the entry before apply, so a caller's revert list holds it even when apply fails half-way. */
export async function applyJournaled(
  ctx: RunContext,
  faults: FaultRegistry,
  journal: RunJournal,
  step: { scenario: string; id: string; type: string; params: unknown },
  onJournaled?: (entry: JournalEntry) => void,
): Promise<JournalEntry> {
  const fault = faults.get(step.type);
  if (!fault) throw new Error(`unknown fault type ${step.type}`);
  const params = fault.paramsSchema.parse(step.params);
  const record = await fault.plan(ctx, params);
  const entry = journal.add({ id: step.id, scenario: step.scenario, faultType: fault.type, params, record });
  onJournaled?.(entry);
  await fault.apply(ctx, params, record);
  journal.setState(entry.id, 'applied');
  return entry;
}
