// doctor's output on fixture findings: JUnit (one test case per finding, skipped below --severity, a detector that
// could not look as an error), the severity gate, redaction.
import { describe, expect, test } from '@jest/globals';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { atOrAbove, renderFindings } from '../../harness/cli/doctor-render.js';
import type { Finding } from '../../harness/detectors/types.js';

const f = (detector: string, severity: Finding['severity'], resource: string, extra = ''): Finding => ({
  detector,
  severity,
  summary: `${resource} is broken${extra}`,
  rootCause: `because; to change: x${extra}`,
  evidence: [`evidence${extra}`],
  runbook: 'manual-change',
  resources: [resource],
});

describe('doctor output', () => {
  const findings = [f('pod-create-refused', 'critical', 'team/Deployment/web'), f('pod-pending', 'warning', 'team/Pod/big-1'), f('crashloop', 'warning', 'team/Pod/db-0', ' password=hunter2-long')];

  test('JSON: findings, errors and each detector\'s collect time', () => {
    const doc = JSON.parse(renderFindings(findings, 'json', 'kind-dev', [], 'info', { crashloop: 0.42, 'etcd-disk-latency': 1.1 }));
    expect(doc.findings).toHaveLength(3);
    expect(doc.collectSeconds).toEqual({ crashloop: 0.42, 'etcd-disk-latency': 1.1 });
    expect(JSON.stringify(doc)).not.toContain('hunter2');
  });

  test('JUnit: a test case per finding; below --severity skipped; detector errors are errors; secrets redacted', () => {
    const xml = renderFindings(findings, 'junit', 'kind-dev', [{ detector: 'control-plane-certs', message: 'no node access' }], 'critical');
    expect(XMLValidator.validate(xml)).toBe(true);
    const doc = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '@_' }).parse(xml);
    const suite = doc.testsuites.testsuite;
    expect([suite['@_tests'], suite['@_failures'], suite['@_skipped'], suite['@_errors']]).toEqual(['4', '1', '2', '1']);
    expect(suite.testcase[0]['@_name']).toBe('team/Deployment/web');
    expect(suite.testcase[0].failure['@_type']).toBe('critical');
    expect(suite.testcase[1].skipped['@_message']).toMatch(/^warning, below --severity critical/);
    expect(suite.testcase[3].error['@_message']).toBe('no node access');
    expect(xml).not.toContain('hunter2');
  });

  test('a clean cluster is one passing test case; the gate counts findings at or above the threshold', () => {
    const doc = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '@_' }).parse(renderFindings([], 'junit', 'kind-dev'));
    expect(doc.testsuites.testsuite.testcase['@_name']).toBe('no findings');
    expect(atOrAbove(findings, 'info')).toHaveLength(3);
    expect(atOrAbove(findings, 'warning')).toHaveLength(3);
    expect(atOrAbove(findings, 'critical').map((x) => x.detector)).toEqual(['pod-create-refused']);
  });
});
