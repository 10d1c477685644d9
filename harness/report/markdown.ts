import { alertLine, confirmed, loadLine, runbookExecLines, offset, secs, totals, versusAlert } from './format.js';
import type { Report } from './types.js';

function cell(s: string): string {
  return s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

export function renderMarkdown(report: Report): string {
  const t = totals(report);
  const out = [
    `# faultline report`,
    '',
    `Run \`${report.runId}\` with faultline ${report.tool.version} on ${report.cluster.provider} cluster \`${report.cluster.name}\`` +
      `${report.cluster.nodeImage ? ` (node image \`${report.cluster.nodeImage}\`)` : ''}, ${report.startedAt} to ${report.endedAt}.`,
    '',
    `**${t.passed} passed, ${t.failed} failed, ${t.skipped} skipped**${report.interrupted ? ` (interrupted by ${report.interrupted})` : ''}`,
  ];
  for (const sc of report.scenarios) {
    out.push('', `## ${sc.id}: ${sc.status}`, '', sc.title);
    if (sc.reason) out.push('', `Reason: ${sc.reason}`);
    if (sc.incident) out.push('', `Incident: ${sc.incident.summary} (source: ${sc.incident.source})`);
    if (sc.status === 'skipped') continue;
    out.push('', `TTD ${secs(sc.ttdSeconds)}, TTR ${secs(sc.ttrSeconds)}${confirmed(sc)}: ${versusAlert(sc)}.`, '');
    out.push('| stage | status | at | took | deadline | message |', '| --- | --- | --- | --- | --- | --- |');
    for (const st of sc.stages) {
      out.push(`| ${st.name} | ${st.status} | +${secs(offset(sc, st))} | ${secs(st.durationSeconds)} | ${secs(st.deadlineSeconds)} | ${cell(st.message ?? '')} |`);
    }
    for (const f of sc.findings) {
      out.push('', `### Finding: ${f.detector}`, '', f.summary, '', `Root cause: ${f.rootCause}`, '', `Runbook: \`faultline runbook ${f.runbook}\``, '');
      out.push(...f.evidence.map((e) => `- ${e}`));
    }
    if (sc.diagnosis) out.push('', `### Diagnosis`, '', sc.diagnosis.summary, '', ...sc.diagnosis.details.map((d) => `    ${d}`));
    if (sc.remediation) out.push('', `### Remediation (${sc.remediation.mode})`, '', ...sc.remediation.actions.map((a) => `- ${a}`));
    if (sc.runbookExec) out.push('', '```', ...runbookExecLines(sc.runbookExec, 20), '```');
    if (sc.load?.length) out.push('', '### Load', '', ...sc.load.map((l) => `- ${loadLine(l)}`));
    if (sc.alerts?.length) out.push('', '### Alerts', '', ...sc.alerts.map((a) => `- ${alertLine(a)}`));
    if (sc.integrity.length) out.push('', '### Integrity', '', ...sc.integrity.map((i) => `- ${i.check} ${i.phase}: ${i.ok ? 'ok' : '**failed**'} (${i.details})`));
  }
  return out.join('\n') + '\n';
}
