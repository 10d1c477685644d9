// Read-only commands: list, runbook, report.
import type { Command } from 'commander';
import { UserError } from '../../core/errors.js';
import { InputFileError, readRegularFile } from '../../core/files.js';
import { builtinRegistries } from '../../engine/registries.js';
import { listScenarioIds, loadScenario, displayPath } from '../../engine/scenario-loader.js';
import { reportIncident } from '../../engine/scenario.js';
import { scenariosDir } from '../../core/paths.js';
import { FORMATS, render, type Format } from '../../report/render.js';
import { parseReport } from '../../report/schema.js';
import { parseChoice, out } from '../common.js';
import { join } from 'node:path';
import { firstIssue } from '../../engine/scenario-loader.js';
import { ZodError } from 'zod';

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
        const rows = all.map((s) => ({ id: s.id, title: s.title, incident: reportIncident(s.incident), fault: s.fault.type, detectors: s.detect.expect, runbook: s.runbook.id, needs: s.cluster.needs }));
        out(JSON.stringify(rows, null, 2) + '\n');
        return;
      }
      if (all.length === 0) out(`no scenarios in ${displayPath(root)}\n`);
      for (const s of all) {
        const cited = reportIncident(s.incident);
        out(`${s.id}\n  ${s.title}\n  ${s.incident.relation === 'adapted' ? 'adapted from' : 'replays'} ${cited.source}\n  fault ${s.fault.type}; detectors ${s.detect.expect.join(', ')}; runbook ${s.runbook.id}\n`);
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
  program
    .command('report')
    .description('render a saved report.json in another format')
    .argument('<report.json>', 'a report written by `faultline run -o json` or --report-dir')
    .option('-o, --output <format>', `${FORMATS.join(', ')}`, 'text')
    .addHelpText('after', '\nExamples:\n  faultline report out/report.json -o junit > junit.xml\n  faultline report out/report.json -o html > timeline.html')
    .action((file: string, flags: { output: string }) => {
      const format = parseChoice(flags.output, FORMATS, '--output') as Format;
      let text: string;
      try {
        text = readRegularFile(file);
      } catch (err) {
        if (err instanceof InputFileError) throw new UserError(err.message, 'pass the path of a report.json');
        throw err;
      }
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        throw new UserError(`${file} is not valid JSON`, 'pass a report.json written by faultline');
      }
      try {
        out(render(parseReport(json), format));
      } catch (err) {
        if (err instanceof ZodError) throw new UserError(`${file}: not a faultline report (schema 1): ${firstIssue(err)}`, 'pass a report.json written by faultline');
        throw err;
      }
    });
}
