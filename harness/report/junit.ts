// JUnit XML: one testsuite, one testcase per scenario (the timeline goes to system-out) and one per alert the run
// reports.
import { XMLBuilder } from 'fast-xml-parser';
import { alertLine, scenarioSeconds, totals, xmlSafe } from './format.js';
import { renderScenarioText } from './text.js';
import type { Report } from './types.js';

export function renderJUnit(report: Report): string {
  const t = totals(report);
  const time = (n: number) => n.toFixed(2);
  const cases = report.scenarios.map((sc) => {
    const tc: Record<string, unknown> = {
      '@_classname': 'faultline.scenario',
      '@_name': sc.id,
      '@_time': time(scenarioSeconds(sc)),
    };
    if (sc.status === 'failed') tc.failure = { '@_message': xmlSafe(sc.reason ?? 'failed'), '@_type': 'ScenarioFailed', '#text': xmlSafe(sc.reason ?? '') };
    if (sc.status === 'skipped') tc.skipped = { '@_message': xmlSafe(sc.reason ?? 'skipped') };
    tc['system-out'] = xmlSafe(renderScenarioText(sc));
    return tc;
  });
  // one test case per alert the run reports: an expected alert that did not fire in time is a failure
  const alertCases = report.scenarios.flatMap((sc) =>
    (sc.alerts ?? []).map((a) => {
      const tc: Record<string, unknown> = { '@_classname': 'faultline.alert', '@_name': `${sc.id}/${a.name}`, '@_time': time(a.firedAfterSeconds ?? 0) };
      if (a.state === 'not-evaluable') tc.skipped = { '@_message': xmlSafe(a.note ?? 'not evaluable') };
      else if (a.expectedWithin !== undefined && a.state !== 'fired') tc.failure = { '@_message': xmlSafe(alertLine(a)), '@_type': 'AlertNotFired', '#text': xmlSafe(alertLine(a)) };
      tc['system-out'] = xmlSafe(alertLine(a));
      return tc;
    }),
  );
  const tests = cases.length + alertCases.length;
  const failures = t.failed + alertCases.filter((c) => c.failure).length;
  const skipped = t.skipped + alertCases.filter((c) => c.skipped).length;
  const total = report.scenarios.reduce((n, sc) => n + scenarioSeconds(sc), 0);
  const doc = {
    '?xml': { '@_version': '1.0', '@_encoding': 'UTF-8' },
    testsuites: {
      '@_name': 'faultline',
      '@_tests': tests,
      '@_failures': failures,
      '@_skipped': skipped,
      '@_time': time(total),
      testsuite: {
        '@_name': `faultline run ${report.runId}`,
        '@_tests': tests,
        '@_failures': failures,
        '@_errors': 0,
        '@_skipped': skipped,
        '@_time': time(total),
        '@_timestamp': report.startedAt,
        testcase: [...cases, ...alertCases],
      },
    },
  };
  const builder = new XMLBuilder({ ignoreAttributes: false, attributeNamePrefix: '@_', format: true, suppressEmptyNode: true, processEntities: true });
  return builder.build(doc) as string;
}
