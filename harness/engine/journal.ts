// The undo journal: one JSON file per run, rewritten atomically. A fault's record is on disk before the
// fault changes anything, so a run killed at any point can be undone by `faultline recover`. While a process
// writes a journal it holds the journal's lock (`<runId>.lock` beside it), so `recover` cannot rewrite a live
// run's file; a killed run leaves a stale lock, which the next owner takes over.
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import type { ClusterRef } from '../cluster/types.js';
import type { RunContext } from '../cluster/context.js';
import type { FaultRegistry } from '../faults/registry.js';
import { writeFileAtomic } from '../core/atomic.js';
import { InputFileError, readRegularFile } from '../core/files.js';
import { acquireLock, LockHeld, type Lock } from '../core/lock.js';
import { stateDir } from '../core/paths.js';
import { identityAlive, thisProcess } from '../core/processes.js';
import { redactText } from '../core/redact.js';

/** "closed": nothing is left to revert because what held the fault is gone (its cluster was deleted). */
export const ENTRY_STATES = ['planned', 'applied', 'reverted', 'revert-failed', 'closed'] as const;
export type EntryState = (typeof ENTRY_STATES)[number];

const ClusterRefSchema = z
  .object({
    provider: z.enum(['kind', 'k3d', 'existing']),
    name: z.string().min(1),
    context: z.string().min(1),
    kubeconfigPath: z.string().min(1),
    createdByFaultline: z.boolean(),
    nodeImage: z.string().optional(),
  });

const EntrySchema = z.object({
  id: z.string().min(1),
  scenario: z.string().optional(),
  faultType: z.string().min(1),
  params: z.unknown(),
  record: z.unknown(),
  state: z.enum(ENTRY_STATES),
  at: z.string(),
  error: z.string().optional(),
});

const JournalSchema = z.object({
  runId: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/),
  pid: z.number().int().positive(),
  /** the owner's start time (/proc), so a reused PID is not taken for the run; absent in older journals */
  startTime: z.string().nullable().optional(),
  command: z.string().optional(),
  startedAt: z.string(),
  cluster: ClusterRefSchema,
  /** how injection into this cluster was allowed: recover asks the same again before it changes anything */
  allowedBy: z.enum(['record', 'allow-context', 'created']).optional(),
  entries: z.array(EntrySchema),
});

export type JournalEntry = z.infer<typeof EntrySchema>;
export type JournalFile = Omit<z.infer<typeof JournalSchema>, 'cluster'> & { cluster: ClusterRef };
export type AllowedBy = NonNullable<JournalFile['allowedBy']>;

export function journalDir(): string {
  return join(stateDir(), 'journal');
}

export function isOpen(entry: JournalEntry): boolean {
  return entry.state !== 'reverted' && entry.state !== 'closed';
}

/** A journal file that cannot be read or does not match the schema: named, never silently skipped. */
export class BadJournal extends Error {
  constructor(
    readonly path: string,
    readonly reason: string,
  ) {
    super(`${path}: ${reason}`);
    this.name = 'BadJournal';
  }
}

export interface OpenOptions {
  /** the command line that owns it, shown to whoever finds its lock held */
  command?: string;
  allowedBy?: AllowedBy;
  dir?: string;
  now?: () => Date;
}

export class RunJournal {
  private lock: Lock | undefined;

  private constructor(
    readonly path: string,
    private data: JournalFile,
    private readonly now: () => Date,
  ) {}

  /** A new journal for a run, locked by this process until close(). Written on its first entry. */
  static create(runId: string, cluster: ClusterRef, opts: OpenOptions = {}): RunJournal {
    const dir = opts.dir ?? journalDir();
    const now = opts.now ?? (() => new Date());
    const me = thisProcess();
    const data: JournalFile = {
      runId,
      pid: me.pid,
      startTime: me.startTime,
      command: opts.command ?? 'faultline',
      startedAt: now().toISOString(),
      cluster,
      ...(opts.allowedBy ? { allowedBy: opts.allowedBy } : {}),
      entries: [],
    };
    const j = new RunJournal(join(dir, `${runId}.json`), data, now);
    j.lock = acquireLock(j.lockPath, data.command!);
    return j;
  }

  /** Reads and validates a journal (not locked: adopt() takes it over). */
  static load(path: string): RunJournal {
    let raw: unknown;
    try {
      raw = JSON.parse(readRegularFile(path));
    } catch (err) {
      throw new BadJournal(path, err instanceof InputFileError ? err.reason : `not JSON (${(err as Error).message})`);
    }
    const parsed = JournalSchema.safeParse(raw);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw new BadJournal(path, `not a faultline journal: field ${issue.path.join('.') || '(top)'}: ${issue.message}`);
    }
    return new RunJournal(path, parsed.data as JournalFile, () => new Date());
  }

  get file(): JournalFile {
    return this.data;
  }

  get lockPath(): string {
    return this.path.replace(/\.json$/, '.lock');
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
    // an error may quote an API's answer: the journal holds no secret either
    if (error) e.error = redactText(error);
    else delete e.error;
    this.flush();
  }

  /** Takes the journal over for this process (recover, after its run was killed). Throws LockHeld when the
   *  run is still going, naming it. */
  adopt(command: string): void {
    const lock = acquireLock(this.lockPath, command);
    // a journal whose lock file is gone but whose owner still runs is refused all the same
    const owner = { pid: this.data.pid, startTime: this.data.startTime ?? null };
    if (owner.pid !== process.pid && identityAlive(owner)) {
      lock.release();
      throw new LockHeld(this.lockPath, { ...owner, command: this.data.command ?? 'faultline', since: this.data.startedAt, token: '' });
    }
    this.lock = lock;
    const me = thisProcess();
    this.data.pid = me.pid;
    this.data.startTime = me.startTime;
    this.data.command = command;
    this.flush();
  }

  /** Releases the lock (the file stays, with whatever entries are still open). */
  close(): void {
    this.lock?.release();
    this.lock = undefined;
  }

  openEntries(): JournalEntry[] {
    return this.data.entries.filter(isOpen);
  }

  private flush(): void {
    writeFileAtomic(this.path, JSON.stringify(this.data, null, 2) + '\n');
  }
}

export interface JournalListing {
  journals: RunJournal[];
  bad: BadJournal[];
}

export function listJournals(dir = journalDir()): JournalListing {
  const out: JournalListing = { journals: [], bad: [] };
  if (!existsSync(dir)) return out;
  for (const f of readdirSync(dir).filter((f) => f.endsWith('.json') && !f.startsWith('.')).sort()) {
    try {
      out.journals.push(RunJournal.load(join(dir, f)));
    } catch (err) {
      if (err instanceof BadJournal) out.bad.push(err);
      else out.bad.push(new BadJournal(join(dir, f), (err as Error).message));
    }
  }
  return out;
}

/** Journals of other runs that still hold faults on this cluster. */
export function openJournalsOn(ref: Pick<ClusterRef, 'provider' | 'name' | 'context'>, dir = journalDir()): RunJournal[] {
  return listJournals(dir).journals.filter((j) => {
    const c = j.file.cluster;
    const same = ref.provider === 'existing' || c.provider === 'existing' ? c.context === ref.context : c.provider === ref.provider && c.name === ref.name;
    return same && j.openEntries().length > 0;
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

/** Marks every open entry of journals on this cluster closed, with the reason, once the cluster is gone: their
 *  faults went with it. `own` is the caller's journal (written through, not through a second copy); journals
 *  of other live runs are left alone. Returns the run ids closed. */
export function closeJournalsOf(cluster: Pick<ClusterRef, 'provider' | 'name'>, reason: string, own: RunJournal[] = [], dir = journalDir()): string[] {
  const closed: string[] = [];
  for (const found of listJournals(dir).journals) {
    const c = found.file.cluster;
    if (c.provider !== cluster.provider || c.name !== cluster.name) continue;
    const mine = own.find((j) => j.file.runId === found.file.runId);
    const j = mine ?? found;
    if (j.openEntries().length === 0) continue;
    try {
      if (!mine) j.adopt('faultline (closing the journals of a deleted cluster)');
    } catch (err) {
      if (err instanceof LockHeld) continue;
      throw err;
    }
    for (const e of j.openEntries()) j.setState(e.id, 'closed', `${reason} (was ${e.state}${e.error ? `: ${e.error}` : ''})`);
    if (!mine) j.close();
    closed.push(j.file.runId);
  }
  return closed;
}
