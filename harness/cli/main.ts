#!/usr/bin/env node
// faultline CLI entry: runs the program and exits with its code.
import { errorMessage } from '../core/errors.js';
import { say } from './common.js';
import { main, oneLine } from './program.js';

// A rejection nobody awaited (an API client's socket reset while the API server restarts under a fault) must not
// end the process: the run would stop between inject and revert and leave the fault in place. The operation that
// needed the answer sees its own error or deadline; this only says so.
process.on('unhandledRejection', (reason) => {
  say(`warning: unhandled ${oneLine(errorMessage(reason))}`);
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
