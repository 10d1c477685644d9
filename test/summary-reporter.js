// Closes a jest run with one line CI systems parse: "<project>: N passed, N failed, N skipped".
// A suite that could not run at all (syntax error, failing import) counts as a failure.
export default class SummaryReporter {
  onRunComplete(_contexts, results) {
    const names = new Set(results.testResults.map((r) => (typeof r.displayName === 'object' ? r.displayName?.name : r.displayName)).filter(Boolean));
    const label = names.size === 1 ? [...names][0] : 'tests';
    const failed = results.numFailedTests + results.numRuntimeErrorTestSuites;
    const skipped = results.numPendingTests + results.numTodoTests;
    process.stderr.write(`\n${label}: ${results.numPassedTests} passed, ${failed} failed, ${skipped} skipped\n`);
  }
}
