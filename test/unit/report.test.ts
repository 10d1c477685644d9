// Report rendering on a hand-written report object (no cluster): schema shape, JUnit parses back as XML,
// Markdown/HTML render, and redaction applies to every format.
import { afterEach, describe, expect, test } from '@jest/globals';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { render, FORMATS } from '../../harness/report/render.js';
import { parseReport } from '../../harness/report/schema.js';
import { clearSecretValues, registerSecretValue } from '../../harness/core/redact.js';
import type { Report, ScenarioReport, StageReport } from '../../harness/report/types.js';
import { STAGE_ORDER } from '../../harness/core/stages.js';

const PEM = '-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun\n-----END RSA PRIVATE KEY-----';

function stages(failAt?: string): StageReport[] {
  let t = Date.parse('2024-05-01T12:00:00Z');
  let failed = false;
  return STAGE_ORDER.map((name) => {
    const dur = name === 'provision' ? 60 : 5;
    const status = failed && name !== 'revert' && name !== 'teardown' ? 'skipped' : name === failAt ? 'failed' : 'passed';
    if (name === failAt) failed = true;
    const st: StageReport = {
      name,
      status,
      startedAt: new Date(t).toISOString(),
      endedAt: new Date(t + dur * 1000).toISOString(),
      durationSeconds: status === 'skipped' ? 0 : dur,
      deadlineSeconds: 120,
      ...(name === failAt ? { message: 'detect exceeded its deadline of 120s <& "quoted">' } : {}),
    };
    t += dur * 1000;
    return st;
  });
}

function scenario(id: string, status: ScenarioReport['status'], extra: Partial<ScenarioReport> = {}): ScenarioReport {
  return {
    id,
    title: `title of ${id}`,
    status,
    ttdSeconds: status === 'passed' ? 4.2 : null,
    ttrSeconds: status === 'passed' ? 33.3 : null,
    standardAlert: { name: 'KubeStatefulSetReplicasMismatch', waitSeconds: 900 },
    stages: status === 'skipped' ? [] : stages(status === 'failed' ? 'detect' : undefined),
    findings:
      status === 'passed'
        ? [
            {
              detector: 'statefulset-env-conflict',
              summary: 'StatefulSet harbor/postgresql env POSTGRES_PASSWORD in container postgresql sets both value and valueFrom',
              rootCause: 'spec.template.spec.containers[0].env[4] (POSTGRES_PASSWORD) sets both value and valueFrom',
              evidence: ['FailedCreate x3 (statefulset-controller): ... may not be specified when `value` is not empty', 'leak: password=hunter2hunter2', 'Authorization: Bearer abcdefghijklmnopqrstuvwxyz123456', PEM, 'registered: sup3r-s3cret-value'],
              runbook: 'statefulset-env-conflict',
            },
          ]
        : [],
    integrity: status === 'passed' ? [{ check: 'postgres-marker', phase: 'check', ok: true, details: 'marker still there' }] : [],
    ...extra,
  };
}

function sample(): Report {
  return {
    schemaVersion: 1,
    tool: { name: 'faultline', version: '0.1.0' },
    runId: '20240501-120000-ab12',
    startedAt: '2024-05-01T12:00:00.000Z',
    endedAt: '2024-05-01T12:02:00.000Z',
    cluster: { provider: 'kind', name: 'faultline-ab12', nodeImage: 'faultline/kind-node:v1.34.4' },
    scenarios: [scenario('good', 'passed'), scenario('bad', 'failed', { reason: 'detect failed: detect exceeded its deadline of 120s' }), scenario('k3s-only', 'skipped', { reason: 'needs kubeadm, which this provider does not offer' })],
  };
}

afterEach(() => clearSecretValues());

describe('report', () => {
  test('JSON has schemaVersion 1 and the documented shape, and parses back through the schema', () => {
    const json = JSON.parse(render(sample(), 'json'));
    expect(json.schemaVersion).toBe(1);
    expect(Object.keys(json).sort()).toEqual(['cluster', 'endedAt', 'runId', 'scenarios', 'schemaVersion', 'startedAt', 'tool'].sort());
    expect(Object.keys(json.scenarios[0]).sort()).toEqual(['findings', 'id', 'integrity', 'stages', 'standardAlert', 'status', 'title', 'ttdSeconds', 'ttrSeconds'].sort());
    expect(Object.keys(json.scenarios[0].stages[0]).sort()).toEqual(['deadlineSeconds', 'durationSeconds', 'endedAt', 'name', 'startedAt', 'status'].sort());
    expect(() => parseReport(json)).not.toThrow();
    expect(() => parseReport({ ...json, schemaVersion: 2 })).toThrow();
  });

  test('JUnit parses as XML: one testsuite, a testcase per scenario, failure and skipped elements', () => {
    const xml = render(sample(), 'junit');
    expect(XMLValidator.validate(xml)).toBe(true);
    const doc = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '' }).parse(xml);
    const suite = doc.testsuites.testsuite;
    expect(Array.isArray(suite)).toBe(false);
    expect(suite.tests).toBe('3');
    expect(suite.failures).toBe('1');
    expect(suite.skipped).toBe('1');
    const cases = suite.testcase;
    expect(cases.map((c: any) => c.name)).toEqual(['good', 'bad', 'k3s-only']);
    expect(cases[0].failure).toBeUndefined();
    expect(cases[1].failure.message).toBe('detect failed: detect exceeded its deadline of 120s');
    expect(cases[2].skipped.message).toMatch(/needs kubeadm/);
    expect(cases[1]['system-out']).toContain('detect exceeded its deadline of 120s <& "quoted">');
    expect(cases[0]['system-out']).toMatch(/provision\s+passed/);
  });

  test('Markdown has a timeline table; HTML is one self-contained, escaped file', () => {
    const md = render(sample(), 'markdown');
    expect(md).toContain('| stage | status | at | took | deadline | message |');
    expect(md).toMatch(/\| detect \| failed \| \+75\.0s \| 5\.0s \| 120s \|/);
    expect(md).toContain('TTD 4.2s, TTR 33.3s: detected in 4.2s; KubeStatefulSetReplicasMismatch waits 900s.');
    const html = render(sample(), 'html');
    expect(html.startsWith('<!doctype html>')).toBe(true);
    expect(html).not.toMatch(/<script|<link|src=|href="http/);
    expect(html).toContain('&lt;&amp; &quot;quoted&quot;&gt;');
    expect(html).not.toContain('<& "quoted">');
    const text = render(sample(), 'text');
    expect(text).toContain('scenarios: 1 passed, 1 failed, 1 skipped');
  });

  test('every format redacts secret values, bearer tokens and private keys', () => {
    registerSecretValue('sup3r-s3cret-value');
    for (const format of FORMATS) {
      const out = render(sample(), format);
      expect(out).not.toContain('hunter2hunter2');
      expect(out).not.toContain('abcdefghijklmnopqrstuvwxyz123456');
      expect(out).not.toContain('MIIEowIBAAKCAQEA');
      expect(out).not.toContain('sup3r-s3cret-value');
      expect(out).toContain('REDACTED');
      // what is not secret survives
      expect(out).toContain('POSTGRES_PASSWORD');
    }
  });
});
