// Report files: written into a --report-dir (run, report merge), and a report.json read back (`faultline report`,
// `report merge`, `run --durations`) with one clear line for bad input.
import { existsSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ZodError } from 'zod';
import { UserError } from '../core/errors.js';
import { InputFileError, makeDir, readRegularFile } from '../core/files.js';
import { firstIssue } from '../engine/scenario-loader.js';
import { REPORT_FILES, render } from '../report/render.js';
import { parseReport } from '../report/schema.js';
import type { Report } from '../report/types.js';

/** A report.json from disk, or one clear line (exit 2): a missing file, bad JSON, or not a faultline report. A
 *  directory stands for the report.json `--report-dir` wrote in it. */
export function readReportFile(path: string): Report {
  const file = existsSync(path) && statSync(path).isDirectory() ? join(path, 'report.json') : path;
  let text: string;
  try {
    text = readRegularFile(file);
  } catch (err) {
    if (err instanceof InputFileError) throw new UserError(err.message, 'pass the path of a report.json (or of the --report-dir holding it)');
    throw err;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new UserError(`${file} is not valid JSON`, 'pass a report.json written by faultline');
  }
  try {
    return parseReport(json);
  } catch (err) {
    if (err instanceof ZodError) throw new UserError(`${file}: not a faultline report (schema 1): ${firstIssue(err)}`, 'pass a report.json written by faultline');
    throw err;
  }
}

/** report.json, junit.xml, report.md and report.html in dir (made if need be). */
export function writeReportFiles(dir: string, report: Report): void {
  makeDir(dir);
  for (const [file, fmt] of REPORT_FILES) writeFileSync(join(dir, file), render(report, fmt));
}
