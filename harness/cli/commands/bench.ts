import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { UserError } from '../../core/errors.js';
import { renderBench } from '../../report/bench.js';
import type { Report } from '../../report/types.js';
import { EXIT, collect, providerReady, out } from '../common.js';
import { builtinRegistries } from '../../engine/registries.js';
import { resolveScenarios } from '../../engine/scenario-loader.js';
import { checkedReportDir, parseParallel, run, withOverrides } from './run.js';

interface BenchFlags {
  runs: string;
  out: string;
  image?: string;
  faultParam: string[];
  parallel: string;
}

export function registerBench(program: Command): void {
  program
    .command('bench')
    .description('run scenarios end to end (each on a new cluster) and print stage times, TTD and TTR next to the standard alerts')
    .argument('[scenario...]', 'scenario ids (default: all)')
    .option('--runs <n>', 'runs of each scenario', '1')
    .option('--out <dir>', 'where each run writes its reports', 'reports/bench')
    .option('--image <ref>', 'kind node image')
    .option('--fault-param <key=value>', "override one of the scenario's fault params, or a set-up fault's as TYPE.key (repeatable; one scenario only)", collect, [])
    .option('--parallel <n>', 'as `faultline run --parallel`: scenarios of isolation "namespace" n at a time on a cluster', '1')
    .addHelpText(
      'after',
      `
Examples:
  faultline bench                                   every scenario once
  faultline bench statefulset-env-conflict --runs 3
  faultline bench etcd-slow-disk --fault-param delayMs=2000
  faultline bench --parallel 2                      the catalog with namespace scenarios two at a time

Numbers depend on the machine: the table names the cores, memory, kernel and node image it ran on.
Exit codes: 0 every run passed, 1 a run failed, 2 bad input.`,
    )
    .action(async (ids: string[], flags: BenchFlags) => {
      const runs = Number(flags.runs);
      if (!Number.isInteger(runs) || runs < 1 || runs > 20) throw new UserError(`--runs ${flags.runs} is not a whole number from 1 to 20`, 'pass e.g. --runs 3');
      // bad scenario ids, fault params or report folders are refused before the first run says anything
      withOverrides(resolveScenarios(ids, ids.length === 0, builtinRegistries()), flags.faultParam, builtinRegistries());
      parseParallel(flags.parallel);
      checkedReportDir(flags.out);
      // and a machine where no cluster can be made, before "run 1 of N"
      await providerReady('kind');
      const reports: Report[] = [];
      let failed = false;
      for (let i = 1; i <= runs; i++) {
        const dir = join(flags.out, `run-${i}`);
        mkdirSync(dir, { recursive: true });
        process.stderr.write(`faultline bench: run ${i} of ${runs}\n`);
        const code = await run(ids, { all: ids.length === 0, allowContext: [], reportDir: dir, output: 'text', quiet: true, faultParam: flags.faultParam, parallel: flags.parallel, ...(flags.image ? { image: flags.image } : {}) });
        reports.push(JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8')) as Report);
        if (code === EXIT.sigint || code === EXIT.sigterm || code === EXIT.sighup) return void (process.exitCode = code);
        failed ||= code !== EXIT.ok;
      }
      out(renderBench(reports));
      process.exitCode = failed ? EXIT.failed : EXIT.ok;
    });
}
