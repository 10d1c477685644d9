import type { Command } from 'commander';
import { connect } from '../../cluster/kube.js';
import { makeProvider } from '../../cluster/registry.js';
import { UserError } from '../../core/errors.js';
import { listJournals } from '../../engine/journal.js';
import { recover } from '../../engine/recover.js';
import { builtinFaults } from '../../faults/registry.js';
import { EXIT } from '../common.js';

export function registerRecover(program: Command): void {
  program
    .command('recover')
    .description('undo faults left applied by runs that were killed (reads the journal in the state dir)')
    .option('--run <id>', 'only this run')
    .option('--force', 'also revert runs whose process still seems alive')
    .addHelpText(
      'after',
      `
Examples:
  faultline recover                 revert every open journal of a dead run
  faultline recover --run 20250101-120000-ab12
  faultline recover --run 20250101-120000-ab12 --force

State dir: $FAULTLINE_STATE_DIR (default ~/.local/state/faultline), journals under journal/.`,
    )
    .action(async (flags: { run?: string; force?: boolean }) => {
      if (flags.run && !listJournals().some((j) => j.file.runId === flags.run)) {
        throw new UserError(`no journal for run "${flags.run}"`, 'run `faultline recover` without --run to revert every open journal');
      }
      const outcomes = await recover(
        { faults: builtinFaults(), connect, provider: (ref) => makeProvider(ref.provider), log: (m) => process.stderr.write(`faultline: ${m}\n`) },
        { ...(flags.run ? { runId: flags.run } : {}), force: !!flags.force },
      );
      if (outcomes.length === 0) process.stdout.write('nothing to recover\n');
      let failed = false;
      for (const o of outcomes) {
        if (o.skipped) process.stdout.write(`run ${o.runId}: skipped: ${o.skipped}\n`);
        for (const r of o.reverted) process.stdout.write(`run ${o.runId}: reverted ${r}\n`);
        for (const f of o.failed) process.stdout.write(`run ${o.runId}: FAILED ${f}\n`);
        failed ||= o.failed.length > 0;
      }
      process.exitCode = failed ? EXIT.failed : EXIT.ok;
    });
}
