// Closes a jest run with what the tail of a CI log must show, a failure's details being far above it on a long
// run: each file's time and result ("<project> file: ..."; in a run of many files only the failed ones), each
// failed test with the first lines of why ("<project> failed: ..."), then one line CI systems parse:
// "<project>: N passed, N failed, N skipped". A suite that could not run at all (syntax error, failing import)
// counts as a failure. lanes.js gathers the "file:" and "failed:" lines of every lane and prints them again after
// the last lane ends.
import { relative } from 'node:path';

const ANSI = /\u001b\[[0-9;]*m/g;
const WHY_LINES = 4;
const WHY_WIDTH = 200;
// a run of more files than this (the unit suite) lists only the files that failed
const LIST_ALL_UP_TO = 25;

/** The first lines of a failure message that say something (jest's own stack frames left out). */
function why(message) {
  return String(message ?? '')
    .replace(ANSI, '')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('at '))
    .slice(0, WHY_LINES)
    .map((l) => (l.length > WHY_WIDTH ? `${l.slice(0, WHY_WIDTH)}…` : l))
    .join(' | ');
}

export default class SummaryReporter {
  constructor(globalConfig) {
    this.root = globalConfig?.rootDir ?? process.cwd();
  }

  onRunComplete(_contexts, results) {
    const names = new Set(results.testResults.map((r) => (typeof r.displayName === 'object' ? r.displayName?.name : r.displayName)).filter(Boolean));
    const label = names.size === 1 ? [...names][0] : 'tests';
    const failed = results.numFailedTests + results.numRuntimeErrorTestSuites;
    const skipped = results.numPendingTests + results.numTodoTests;
    const lines = [];
    for (const file of results.testResults) {
      const path = relative(this.root, file.testFilePath);
      const seconds = ((file.perfStats.end - file.perfStats.start) / 1000).toFixed(0);
      const bad = file.numFailingTests > 0 || file.testExecError;
      if (bad || results.testResults.length <= LIST_ALL_UP_TO) lines.push(`${label} file: ${bad ? 'FAIL' : 'pass'} ${seconds} s ${path}`);
      if (file.testExecError) lines.push(`${label} failed: ${path}: could not run: ${why(file.testExecError.message)}`);
      for (const t of file.testResults.filter((a) => a.status === 'failed')) {
        lines.push(`${label} failed: ${path} › ${t.fullName} (${((t.duration ?? 0) / 1000).toFixed(0)} s): ${why(t.failureMessages.join('\n'))}`);
      }
    }
    process.stderr.write(`\n${lines.join('\n')}\n${label}: ${results.numPassedTests} passed, ${failed} failed, ${skipped} skipped\n`);
  }
}
