// `faultline drill <id>`: a game day. The fault goes in and stays; people work the incident with what on-call
// would see; faultline says the symptom, the time left and the alerts firing, polls the runbook's verify, and
// reverts at the end (deadline, recovery or Ctrl-C).
import type { Command } from 'commander';
import { UserError } from '../../core/errors.js';
import { parseSeconds } from '../../core/durations.js';
import { run, withAlertOptions, withTargetOptions, type RunFlags } from './run.js';

interface DrillFlags extends Omit<RunFlags, 'drill'> {
  deadline: string;
}

export function registerDrill(program: Command): void {
  const cmd = program
    .command('drill')
    .description('a game day: inject, show only the symptom while people fix it, report the time to recover; always reverts')
    .argument('<scenario>', 'scenario id (see `faultline list`)')
    .option('--deadline <duration>', 'how long people have, from the moment the incident is live: seconds, or 90s, 15m, 2h', '15m');
  withAlertOptions(withTargetOptions(cmd, 'drill'))
    .addHelpText(
      'after',
      `
Examples:
  faultline cluster up --name gameday && faultline drill etcd-slow-disk --cluster gameday --deadline 20m --alerts
  faultline drill statefulset-env-conflict --deadline 10m --report-dir drill-out

While the drill runs, stderr says the symptom and the namespace (never the fault), then every 30 s the time
left and the alerts firing. The drill passes when the runbook's verify passes before the deadline; TTR is from
the moment the incident went live. What faultline did before and during the drill is printed once it is over.

Exit codes: 0 healthy in time, 1 not healthy by the deadline, 2 bad input (nothing changed), 130/143/129 interrupted.`,
    )
    .action(async (id: string, flags: DrillFlags) => {
      const seconds = parseSeconds(flags.deadline);
      if (seconds === undefined) throw new UserError(`--deadline ${JSON.stringify(flags.deadline)}: not a duration of 1 s to one week`, 'e.g. --deadline 900, --deadline 15m');
      const { deadline: _deadline, ...rest } = flags;
      process.exitCode = await run([id], { ...rest, drill: seconds });
    });
}
