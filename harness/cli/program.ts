// The faultline program: wires the commands and turns every error into one line and an exit code.
import { Command, CommanderError } from 'commander';
import { UserError, errorMessage } from '../core/errors.js';
import { toolVersion } from '../core/paths.js';
import { EXIT, say } from './common.js';
import { registerCluster } from './commands/cluster.js';
import { registerDoctor } from './commands/doctor.js';
import { registerDrill } from './commands/drill.js';
import { registerInject } from './commands/inject.js';
import { registerList, registerReport, registerRunbook } from './commands/info.js';
import { registerRecover } from './commands/recover.js';
import { registerRun } from './commands/run.js';
import { registerBench } from './commands/bench.js';

export function oneLine(s: string): string {
  return s.replace(/\s*\n\s*/g, ' ').trim();
}

/** An empty value is never "absent": `recover --run ''` must not mean every run, nor `--context ''` a new cluster. */
function refuseEmptyValues(cmd: Command): void {
  for (const [key, value] of Object.entries(cmd.opts())) {
    const values = Array.isArray(value) ? value : [value];
    if (values.some((v) => typeof v === 'string' && v.trim() === '')) {
      const flag = cmd.options.find((o) => o.attributeName() === key)?.long ?? `--${key}`;
      throw new UserError(`${flag} was given an empty value`, `give ${flag} a value, or leave it out`);
    }
  }
  for (const arg of cmd.args) {
    if (arg.trim() === '') throw new UserError(`\`faultline ${cmd.name()}\` was given an empty argument`, 'leave it out or give a value');
  }
}

export function buildProgram(): Command {
  const program = new Command('faultline')
    .description('reproduce real Kubernetes incidents on throwaway clusters and prove detection and runbooks handle them')
    .version(toolVersion())
    .showSuggestionAfterError(true)
    .addHelpText(
      'after',
      `
Examples:
  faultline list                                   scenarios and the incidents they replay
  faultline run statefulset-env-conflict           full reproduction on a new kind cluster
  faultline doctor --context staging               detectors only, changes nothing
  faultline drill etcd-slow-disk --deadline 20m    a game day: people fix it, faultline times them
  faultline recover                                undo faults left by a killed run

Environment: FAULTLINE_STATE_DIR, FAULTLINE_CACHE, FAULTLINE_SCENARIOS_DIR, FAULTLINE_KIND, FAULTLINE_NODE_IMAGE.`,
    );
  registerList(program);
  registerRun(program);
  registerDrill(program);
  registerBench(program);
  registerDoctor(program);
  registerInject(program);
  registerRecover(program);
  registerRunbook(program);
  registerCluster(program);
  registerReport(program);
  program.hook('preAction', (_program, action) => refuseEmptyValues(action));
  // commander's own messages become our single line; help and version still print normally
  program.exitOverride();
  program.configureOutput({ outputError: () => {} });
  for (const c of program.commands) {
    c.exitOverride();
    c.configureOutput({ outputError: () => {} });
    for (const sub of c.commands) {
      sub.exitOverride();
      sub.configureOutput({ outputError: () => {} });
    }
  }
  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  if (argv.length <= 2) {
    program.outputHelp();
    return EXIT.ok;
  }
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : EXIT.ok;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return EXIT.ok;
      const msg = oneLine(err.message.replace(/^error:\s*/, ''));
      say(`${msg}; see \`faultline --help\``);
      return EXIT.badInput;
    }
    if (err instanceof UserError) {
      say(oneLine(err.message));
      return EXIT.badInput;
    }
    say(oneLine(errorMessage(err)));
    return EXIT.failed;
  }
}
