// A single self-contained HTML file (inline CSS, no scripts, no external assets) with one timeline per scenario.
import { alertLine, confirmed, offset, runbookExecLines, secs, totals, versusAlert } from './format.js';
import type { Report, ScenarioReport } from './types.js';

export function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

const CSS = `body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}h1{font-size:1.4em}
.passed{color:#17663a}.failed,.interrupted{color:#b3261e}.skipped{color:#777}
table{border-collapse:collapse;width:100%;margin:.5em 0}td,th{border-bottom:1px solid #ddd;padding:3px 6px;text-align:left;vertical-align:top}
.bar{position:relative;height:14px;background:#f3f3f3;min-width:300px}.bar span{position:absolute;top:0;height:14px;min-width:2px}
.bar .passed{background:#2e9d5b}.bar .failed,.bar .interrupted{background:#d9534f}.bar .skipped{background:#ccc}
code,pre{background:#f6f6f6;padding:1px 3px}pre{padding:6px;white-space:pre-wrap}`;

function timeline(sc: ScenarioReport): string {
  const total = Math.max(1, ...sc.stages.map((st) => offset(sc, st) + st.durationSeconds));
  const rows = sc.stages.map((st) => {
    const left = (offset(sc, st) / total) * 100;
    const width = (st.durationSeconds / total) * 100;
    return `<tr><td>${esc(st.name)}</td><td class="${st.status}">${st.status}</td><td>+${secs(offset(sc, st))}</td><td>${secs(st.durationSeconds)}</td><td>${secs(st.deadlineSeconds)}</td>
<td class="bar"><span class="${st.status}" style="left:${left.toFixed(2)}%;width:${width.toFixed(2)}%"></span></td><td>${esc(st.message ?? '')}</td></tr>`;
  });
  return `<table><tr><th>stage</th><th>status</th><th>at</th><th>took</th><th>deadline</th><th>timeline</th><th>message</th></tr>${rows.join('\n')}</table>`;
}

function scenario(sc: ScenarioReport): string {
  const parts = [`<h2>${esc(sc.id)}: <span class="${sc.status}">${sc.status}</span></h2><p>${esc(sc.title)}</p>`];
  if (sc.reason) parts.push(`<p>Reason: ${esc(sc.reason)}</p>`);
  if (sc.incident) parts.push(`<p>Incident: ${esc(sc.incident.summary)} <small>(source: ${esc(sc.incident.source)})</small></p>`);
  if (sc.status !== 'skipped') {
    parts.push(`<p>TTD <b>${secs(sc.ttdSeconds)}</b>, TTR <b>${secs(sc.ttrSeconds)}</b>${esc(confirmed(sc))}: ${esc(versusAlert(sc))}.</p>`, timeline(sc));
  }
  for (const f of sc.findings) {
    parts.push(`<h3>Finding: ${esc(f.detector)}</h3><p>${esc(f.summary)}</p><p>Root cause: ${esc(f.rootCause)}</p>
<p>Runbook: <code>faultline runbook ${esc(f.runbook)}</code></p><ul>${f.evidence.map((e) => `<li>${esc(e)}</li>`).join('')}</ul>`);
  }
  if (sc.diagnosis) parts.push(`<h3>Diagnosis</h3><p>${esc(sc.diagnosis.summary)}</p><pre>${esc(sc.diagnosis.details.join('\n'))}</pre>`);
  if (sc.remediation) parts.push(`<h3>Remediation (${esc(sc.remediation.mode)})</h3><ul>${sc.remediation.actions.map((a) => `<li>${esc(a)}</li>`).join('')}</ul>`);
  if (sc.runbookExec) parts.push(`<pre>${esc(runbookExecLines(sc.runbookExec, 20).join('\n'))}</pre>`);
  if (sc.alerts?.length) {
    // beside TTD: when each alert fired, from the same start
    const cls = (a: (typeof sc.alerts)[number]) => (a.state === 'fired' ? 'passed' : a.expectedWithin !== undefined ? 'failed' : 'skipped');
    parts.push(`<h3>Alerts</h3><p>faultline's TTD ${secs(sc.ttdSeconds)}</p><ul>${sc.alerts.map((a) => `<li class="${cls(a)}">${esc(alertLine(a))}</li>`).join('')}</ul>`);
  }
  if (sc.integrity.length) {
    parts.push(`<h3>Integrity</h3><ul>${sc.integrity.map((i) => `<li class="${i.ok ? 'passed' : 'failed'}">${esc(`${i.check} ${i.phase}: ${i.ok ? 'ok' : 'failed'} (${i.details})`)}</li>`).join('')}</ul>`);
  }
  return `<section>${parts.join('\n')}</section>`;
}

export function renderHtml(report: Report): string {
  const t = totals(report);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>faultline report ${esc(report.runId)}</title><style>${CSS}</style></head>
<body><h1>faultline report</h1>
<p>Run <code>${esc(report.runId)}</code>, faultline ${esc(report.tool.version)}, ${esc(report.cluster.provider)} cluster <code>${esc(report.cluster.name)}</code>${
    report.cluster.nodeImage ? ` (node image <code>${esc(report.cluster.nodeImage)}</code>)` : ''
  }, ${esc(report.startedAt)} to ${esc(report.endedAt)}.</p>
<p><b>${t.passed} passed, ${t.failed} failed, ${t.skipped} skipped</b>${report.interrupted ? ` (interrupted by ${esc(report.interrupted)})` : ''}</p>
${report.scenarios.map(scenario).join('\n')}
</body></html>
`;
}
