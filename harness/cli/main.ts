#!/usr/bin/env node
// faultline CLI entry: wires the commands and turns errors into exit codes.
import { Command, CommanderError } from 'commander';
import { UserError, errorMessage } from '../core/errors.js';
import { toolVersion } from '../core/paths.js';
import { EXIT } from './common.js';
import { registerCluster } from './commands/cluster.js';
import { registerDoctor } from './commands/doctor.js';
import { registerInject } from './commands/inject.js';
import { registerList, registerReport, registerRunbook } from './commands/info.js';
import { registerRecover } from './commands/recover.js';
import { registerRun } from './commands/run.js';
import { registerBench } from './commands/bench.js';

function oneLine(s: string): string {
  return s.replace(/\s*\n\s*/g, ' ').trim();
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
  faultline recover                                undo faults left by a killed run

Environment: FAULTLINE_STATE_DIR, FAULTLINE_CACHE, FAULTLINE_SCENARIOS_DIR, FAULTLINE_KIND, FAULTLINE_NODE_IMAGE.`,
    );
  registerList(program);
  registerRun(program);
  registerBench(program);
  registerDoctor(program);
  registerInject(program);
  registerRecover(program);
  registerRunbook(program);
  registerCluster(program);
  registerReport(program);
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
      process.stderr.write(`faultline: ${msg}; see \`faultline --help\`\n`);
      return EXIT.badInput;
    }
    if (err instanceof UserError) {
      process.stderr.write(`faultline: ${oneLine(err.message)}\n`);
      return EXIT.badInput;
    }
    process.stderr.write(`faultline: ${oneLine(errorMessage(err))}\n`);
    return EXIT.failed;
  }
}

// A rejection nobody awaited (an API client's socket reset while the API server restarts under a fault) must not
// end the process: the run would stop between inject and revert and leave the fault in place. The operation that
// needed the answer sees its own error or deadline; this only says so.
process.on('unhandledRejection', (reason) => {
  process.stderr.write(`faultline: warning: unhandled ${oneLine(errorMessage(reason))}\n`);
});

// a reader that stops early (`faultline --help | head`) is not an error
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw err;
});
const code = await main(process.argv);
process.exitCode = code;
// API clients can keep sockets open; a finished command should not hang on them
setTimeout(() => process.exit(code), 200).unref();
