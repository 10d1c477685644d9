import type { Command } from 'commander';
import { connect } from '../../cluster/kube.js';
import { makeProvider } from '../../cluster/registry.js';
import { UserError } from '../../core/errors.js';
import { listJournals } from '../../engine/journal.js';
import { leftOpen, recover, type RecoverReport } from '../../engine/recover.js';
import { providerForJournal } from '../../engine/node-agents.js';
import { builtinFaults } from '../../faults/registry.js';
import { EXIT, collect, say, out } from '../common.js';

export function registerRecover(program: Command): void {
  program
    .command('recover')
    .description('undo faults left applied by runs that were killed (reads the journals in the state dir)')
    .option('--run <id>', 'only this run')
    .option('--allow-context <name>', 'allow reverting in this context, for runs that injected with --allow-context (repeatable)', collect, [])
    .addHelpText(
      'after',
      `
Examples:
  faultline recover                 revert every open journal of a run that has ended
  faultline recover --run 20250101-120000-ab12
  faultline recover --allow-context staging

A run that is still going is never recovered: stop it (Ctrl-C reverts), or wait for it.
Exit codes: 0 nothing is left open, 1 something is (a failed revert, a journal skipped or unreadable), 2 bad input.
State dir: $FAULTLINE_STATE_DIR (default ~/.local/state/faultline), journals under journal/.`,
    )
    .action(async (flags: { run?: string; allowContext: string[] }) => {
      if (flags.run && !listJournals().journals.some((j) => j.file.runId === flags.run)) {
        throw new UserError(`no journal for run "${flags.run}"`, 'run `faultline recover` without --run to revert every open journal');
      }
      const report = await recover(
        {
          faults: builtinFaults(),
          connect,
          provider: (ref, entries) => providerForJournal(makeProvider(ref.provider), entries ?? [], connect),
          log: (m) => say(m),
        },
        { ...(flags.run ? { runId: flags.run } : {}), allowContexts: flags.allowContext, command: `faultline recover${flags.run ? ` --run ${flags.run}` : ''}` },
      );
      out(recoverLines(report));
      process.exitCode = leftOpen(report) ? EXIT.failed : EXIT.ok;
    });
}

/** One line per thing done or left, then a closing line when anything is left open. */
export function recoverLines(r: RecoverReport): string {
  const lines: string[] = [];
  for (const o of r.outcomes) {
    if (o.skipped) lines.push(`run ${o.runId}: skipped: ${o.skipped}`);
    for (const x of o.reverted) lines.push(`run ${o.runId}: reverted ${x}`);
    for (const x of o.closed) lines.push(`run ${o.runId}: closed ${x}: its cluster no longer exists`);
    for (const x of o.failed) lines.push(`run ${o.runId}: FAILED ${x}`);
  }
  for (const b of r.bad) lines.push(`unreadable journal ${b.path}: ${b.reason}; move it aside once what it held is checked by hand`);
  if (lines.length === 0) lines.push('nothing to recover');
  if (leftOpen(r)) {
    const open = r.outcomes.filter((o) => o.open && (o.skipped || o.failed.length)).map((o) => o.runId);
    const bad = r.bad.length ? [`${r.bad.length} unreadable journal(s)`] : [];
    lines.push(`left open: ${[...open.map((id) => `run ${id}`), ...bad].join(', ')}`);
  }
  return lines.join('\n') + '\n';
}
