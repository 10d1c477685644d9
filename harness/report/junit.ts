// JUnit XML: one testsuite, one testcase per scenario; the timeline goes to system-out.
import { XMLBuilder } from 'fast-xml-parser';
import { scenarioSeconds, totals, xmlSafe } from './format.js';
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
  const total = report.scenarios.reduce((n, sc) => n + scenarioSeconds(sc), 0);
  const doc = {
    '?xml': { '@_version': '1.0', '@_encoding': 'UTF-8' },
    testsuites: {
      '@_name': 'faultline',
      '@_tests': report.scenarios.length,
      '@_failures': t.failed,
      '@_skipped': t.skipped,
      '@_time': time(total),
      testsuite: {
        '@_name': `faultline run ${report.runId}`,
        '@_tests': report.scenarios.length,
        '@_failures': t.failed,
        '@_errors': 0,
        '@_skipped': t.skipped,
        '@_time': time(total),
        '@_timestamp': report.startedAt,
        testcase: cases,
      },
    },
  };
  const builder = new XMLBuilder({ ignoreAttributes: false, attributeNamePrefix: '@_', format: true, suppressEmptyNode: true, processEntities: true });
  return builder.build(doc) as string;
}
