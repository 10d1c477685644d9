import { alertLine, confirmed, loadLine, runbookExecLines, offset, pad, secs, totals, versusAlert } from './format.js';
import type { Report, ScenarioReport } from './types.js';

export function timelineText(sc: ScenarioReport): string {
  const rows = [['stage', 'status', 'at', 'took', 'deadline', 'message']];
  for (const st of sc.stages) {
    rows.push([st.name, st.status, `+${secs(offset(sc, st))}`, secs(st.durationSeconds), secs(st.deadlineSeconds), st.message ?? '']);
  }
  const widths = rows[0]!.slice(0, 5).map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => (i < 5 ? pad(c, widths[i]!) : c)).join('  ').trimEnd()).join('\n');
}

export function renderScenarioText(sc: ScenarioReport): string {
  const lines = [`scenario ${sc.id}: ${sc.status.toUpperCase()}${sc.reason ? ` (${sc.reason})` : ''}`, `  ${sc.title}`];
  if (sc.status !== 'skipped') {
    lines.push(`  TTD ${secs(sc.ttdSeconds)}  TTR ${secs(sc.ttrSeconds)}${confirmed(sc)}  (${versusAlert(sc)})`);
    lines.push(...timelineText(sc).split('\n').map((l) => `  ${l}`));
  }
  for (const f of sc.findings) {
    lines.push(`  finding [${f.detector}] ${f.summary}`, `    root cause: ${f.rootCause}`, `    runbook: faultline runbook ${f.runbook}`);
    lines.push(...f.evidence.map((e) => `    - ${e}`));
  }
  if (sc.diagnosis) lines.push(`  diagnosis: ${sc.diagnosis.summary}`, ...sc.diagnosis.details.map((d) => `    ${d}`));
  if (sc.remediation) lines.push(`  remediation (${sc.remediation.mode}): ${sc.remediation.actions.join('; ')}`);
  if (sc.runbookExec) lines.push(...runbookExecLines(sc.runbookExec).map((l) => `  ${l}`));
  for (const l of sc.load ?? []) lines.push(`  ${loadLine(l)}`);
  for (const a of sc.alerts ?? []) lines.push(`  ${alertLine(a)}`);
  for (const i of sc.integrity) lines.push(`  integrity ${i.check} ${i.phase}: ${i.ok ? 'ok' : 'FAILED'} (${i.details})`);
  return lines.join('\n');
}

export function renderText(report: Report): string {
  const t = totals(report);
  const head = `faultline ${report.tool.version}  run ${report.runId}  cluster ${report.cluster.provider}/${report.cluster.name}${
    report.cluster.nodeImage ? ` (image ${report.cluster.nodeImage})` : ''
  }`;
  const body = report.scenarios.map(renderScenarioText);
  const tail = [`scenarios: ${t.passed} passed, ${t.failed} failed, ${t.skipped} skipped`];
  if (report.interrupted) tail.push(`interrupted by ${report.interrupted}`);
  return [head, ...body, ...tail].join('\n\n') + '\n';
}
