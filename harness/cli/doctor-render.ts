// What doctor prints: its findings (and the detectors that could not look) as text, JSON, Markdown or JUnit, every
// one redacted. JUnit has one test case per finding, so a CI job can gate on it; findings below --severity are
// test cases marked skipped.
import { XMLBuilder } from 'fast-xml-parser';
import type { DetectorError } from '../detectors/registry.js';
import type { Finding, Severity } from '../detectors/types.js';
import { redactDeep } from '../core/redact.js';
import { xmlSafe } from '../report/format.js';

export const DOCTOR_FORMATS = ['text', 'json', 'markdown', 'junit'] as const;
export const SEVERITIES: readonly Severity[] = ['info', 'warning', 'critical'];

/** Findings at or above the threshold: the ones that make doctor exit 1. */
export function atOrAbove(findings: Finding[], threshold: Severity): Finding[] {
  return findings.filter((f) => SEVERITIES.indexOf(f.severity) >= SEVERITIES.indexOf(threshold));
}


/** `collectSeconds`: how long each detector took to read the cluster (JSON only: which one a slow scan waited for) */
export function renderFindings(findings: Finding[], format: (typeof DOCTOR_FORMATS)[number], context: string, errors: DetectorError[] = [], threshold: Severity = 'info', collectSeconds?: Record<string, number>): string {
  const safe = redactDeep(findings);
  const errs = redactDeep(errors);
  if (format === 'json') return JSON.stringify({ context, findings: safe, errors: errs, ...(collectSeconds ? { collectSeconds } : {}) }, null, 2) + '\n';
  if (format === 'junit') return junit(safe, errs, context, threshold);
  const couldNot = errs.map((e) => `detector ${e.detector} could not look: ${e.message}`);
  if (safe.length === 0 && errs.length === 0) return format === 'markdown' ? `# faultline doctor: ${context}\n\nNo findings.\n` : `faultline doctor: ${context}: no findings\n`;
  if (format === 'markdown') {
    return (
      `# faultline doctor: ${context}\n\n` +
      safe
        .map((f) => `## ${f.detector} (${f.severity})\n\n${f.summary}\n\nRoot cause: ${f.rootCause}\n\nRunbook: \`faultline runbook ${f.runbook}\`\n\n${f.evidence.map((e) => `- ${e}`).join('\n')}\n`)
        .join('\n') +
      (couldNot.length ? `\n## Detectors that could not look\n\n${couldNot.map((l) => `- ${l}`).join('\n')}\n` : '')
    );
  }
  return (
    [
      ...safe.map((f) => [`[${f.severity}] ${f.detector}: ${f.summary}`, `  root cause: ${f.rootCause}`, `  runbook: faultline runbook ${f.runbook}`, ...f.evidence.map((e) => `  - ${e}`)].join('\n')),
      ...couldNot,
    ].join('\n\n') + `\n\n${safe.length} finding(s)${errs.length ? `, ${errs.length} detector(s) could not look` : ''} in ${context}\n`
  );
}

function junit(findings: Finding[], errors: DetectorError[], context: string, threshold: Severity): string {
  const gating = new Set(atOrAbove(findings, threshold));
  const cases: Array<Record<string, unknown>> = findings.map((f) => ({
    '@_classname': `faultline.doctor.${f.detector}`,
    '@_name': xmlSafe(f.resources[0] ?? f.summary),
    ...(gating.has(f)
      ? { failure: { '@_message': xmlSafe(f.summary), '@_type': f.severity, '#text': xmlSafe([`root cause: ${f.rootCause}`, `runbook: faultline runbook ${f.runbook}`, ...f.evidence].join('\n')) } }
      : { skipped: { '@_message': xmlSafe(`${f.severity}, below --severity ${threshold}: ${f.summary}`) } }),
  }));
  for (const e of errors) cases.push({ '@_classname': `faultline.doctor.${e.detector}`, '@_name': 'could look', error: { '@_message': xmlSafe(e.message), '@_type': 'DetectorError' } });
  // a clean cluster still gives one passing test case, so the suite is never empty
  if (cases.length === 0) cases.push({ '@_classname': 'faultline.doctor', '@_name': 'no findings' });
  const failures = findings.filter((f) => gating.has(f)).length;
  const skipped = findings.length - failures;
  const doc = {
    '?xml': { '@_version': '1.0', '@_encoding': 'UTF-8' },
    testsuites: {
      '@_name': 'faultline doctor',
      '@_tests': cases.length,
      '@_failures': failures,
      '@_errors': errors.length,
      '@_skipped': skipped,
      testsuite: { '@_name': xmlSafe(`faultline doctor ${context}`), '@_tests': cases.length, '@_failures': failures, '@_errors': errors.length, '@_skipped': skipped, testcase: cases },
    },
  };
  return new XMLBuilder({ ignoreAttributes: false, attributeNamePrefix: '@_', format: true, suppressEmptyNode: true, processEntities: true }).build(doc) as string;
}
