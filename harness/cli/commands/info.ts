// Read-only commands: list, runbook, report.
import type { Command } from 'commander';
import { UserError } from '../../core/errors.js';
import { builtinRegistries } from '../../engine/registries.js';
import { listScenarioIds, loadScenario, displayPath } from '../../engine/scenario-loader.js';
import { reportIncident } from '../../engine/scenario.js';
import { scenariosDir } from '../../core/paths.js';
import { FORMATS, render, type Format } from '../../report/render.js';
import { MergeError, mergeReports } from '../../report/merge.js';
import type { Report } from '../../report/types.js';
import { parseChoice, out, say } from '../common.js';
import { checkedReportDir } from './run.js';
import { readReportFile, writeReportFiles } from '../report-file.js';
import { join } from 'node:path';

export function registerList(program: Command): void {
  program
    .command('list')
    .description('list the scenarios (folders under scenarios/, or $FAULTLINE_SCENARIOS_DIR)')
    .option('-o, --output <format>', 'text or json', 'text')
    .addHelpText('after', '\nExamples:\n  faultline list\n  faultline list -o json')
    .action((flags: { output: string }) => {
      const format = parseChoice(flags.output, ['text', 'json'] as const, '--output');
      const registries = builtinRegistries();
      const root = scenariosDir();
      const all = listScenarioIds(root).map((id) => loadScenario(join(root, id), registries));
      if (format === 'json') {
        const rows = all.map((s) => ({ id: s.id, title: s.title, incident: reportIncident(s.incident), fault: s.fault.type, detectors: s.detect.expect, runbook: s.runbook.id, needs: s.cluster.needs, isolation: s.isolation }));
        out(JSON.stringify(rows, null, 2) + '\n');
        return;
      }
      if (all.length === 0) out(`no scenarios in ${displayPath(root)}\n`);
      for (const s of all) {
        const cited = reportIncident(s.incident);
        out(`${s.id}\n  ${s.title}\n  ${s.incident.relation === 'adapted' ? 'adapted from' : 'replays'} ${cited.source}\n  fault ${s.fault.type}; detectors ${s.detect.expect.join(', ')}; runbook ${s.runbook.id}; isolation ${s.isolation}\n`);
      }
    });
}

export function registerRunbook(program: Command): void {
  program
    .command('runbook')
    .description('print a runbook as Markdown (no id: list runbooks)')
    .argument('[id]', 'runbook id, as named in findings')
    .addHelpText('after', '\nExamples:\n  faultline runbook\n  faultline runbook statefulset-env-conflict > runbook.md')
    .action((id: string | undefined) => {
      const runbooks = builtinRegistries().runbooks;
      if (!id) {
        for (const r of runbooks.values()) out(`${r.id}\t${r.title}\n`);
        return;
      }
      const rb = runbooks.get(id);
      if (!rb) throw new UserError(`unknown runbook "${id}"`, `known: ${[...runbooks.keys()].join(', ')}`);
      out(rb.markdown());
    });
}

export function registerReport(program: Command): void {
  const report = program
    .command('report')
    .description('render a saved report.json in another format, or merge the reports of sharded runs')
    .addHelpText(
      'after',
      '\nExamples:\n  faultline report out/report.json -o junit > junit.xml      (report render: the default)\n  faultline report merge shard-1 shard-2 --report-dir merged',
    );
  report
    .command('render', { isDefault: true })
    .description('render a saved report.json in another format (the default: `faultline report FILE`)')
    .argument('<report.json>', 'a report written by `faultline run -o json` or --report-dir (or that directory)')
    .option('-o, --output <format>', `${FORMATS.join(', ')}`, 'text')
    .addHelpText('after', '\nExamples:\n  faultline report out/report.json -o junit > junit.xml\n  faultline report out/report.json -o html > timeline.html')
    .action((file: string, flags: { output: string }) => {
      const format = parseChoice(flags.output, FORMATS, '--output') as Format;
      out(render(readReportFile(file), format));
    });
  report
    .command('merge')
    .description("join the reports of a sharded run's jobs (`run --all --shard I/N`) into one; each scenario must be in exactly one")
    .argument('<report...>', 'report.json files, or the --report-dir folders holding them')
    .option('--report-dir <dir>', 'write the merged report.json, junit.xml, report.md and report.html there')
    .option('-o, --output <format>', `stdout format: ${FORMATS.join(', ')}`, 'text')
    .addHelpText(
      'after',
      '\nExamples:\n  faultline report merge shard-1 shard-2 shard-3 --report-dir merged -o junit > junit.xml\n\nExit codes: 0 merged (whatever the scenarios\' results: the merged JUnit says them), 2 bad input.',
    )
    .action((paths: string[], flags: { output: string; reportDir?: string }) => {
      const format = parseChoice(flags.output, FORMATS, '--output') as Format;
      if (flags.reportDir) checkedReportDir(flags.reportDir);
      let merged: Report;
      try {
        merged = mergeReports(paths.map((p) => ({ source: p, report: readReportFile(p) })));
      } catch (err) {
        if (err instanceof MergeError) throw new UserError(err.message, 'pass the reports of one sharded run, each job once');
        throw err;
      }
      if (flags.reportDir) {
        writeReportFiles(flags.reportDir, merged);
        say(`merged ${paths.length} report(s), ${merged.scenarios.length} scenario(s); written to ${flags.reportDir}`);
      }
      out(render(merged, format));
    });
}
