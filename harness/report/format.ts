// Small helpers shared by the renderers.
import type { AlertReport } from '../alerts/watch.js';
import type { LoadResult } from '../load/types.js';
import type { Report, ScenarioReport, StageReport } from './types.js';

export function secs(n: number | null | undefined): string {
  if (n === null || n === undefined) return '-';
  return n >= 100 ? `${Math.round(n)}s` : `${n.toFixed(1)}s`;
}

/** offset of a stage from the scenario's first stage, in seconds */
export function offset(sc: ScenarioReport, st: StageReport): number {
  const t0 = sc.stages[0] ? Date.parse(sc.stages[0].startedAt) : Date.parse(st.startedAt);
  return Math.max(0, (Date.parse(st.startedAt) - t0) / 1000);
}

export function totals(report: Report): { passed: number; failed: number; skipped: number } {
  const count = (s: ScenarioReport['status']) => report.scenarios.filter((x) => x.status === s).length;
  return { passed: count('passed'), failed: count('failed'), skipped: count('skipped') };
}

export function scenarioSeconds(sc: ScenarioReport): number {
  return sc.stages.reduce((n, s) => n + s.durationSeconds, 0);
}

/** "detected in 4.2s; the standard alert KubeStatefulSetReplicasMismatch waits 900s" */
export function versusAlert(sc: ScenarioReport): string {
  const alert = `${sc.standardAlert.name} waits ${secs(sc.standardAlert.waitSeconds)}${sc.standardAlert.note ? ` (${sc.standardAlert.note})` : ''}`;
  if (sc.ttdSeconds !== null) return `detected in ${secs(sc.ttdSeconds)}; ${alert}`;
  // a self-healing scenario has nothing to detect; its TTR runs from the end of the fault
  if (sc.recovery === 'drill') return sc.ttrSeconds !== null ? `a drill: people made it healthy in ${secs(sc.ttrSeconds)} after the fault went in; ${alert}` : `a drill: not healthy by its deadline; ${alert}`;
  const selfHealed = sc.recovery === 'self' && sc.ttrSeconds !== null;
  return selfHealed ? `recovered on its own in ${secs(sc.ttrSeconds)}, no runbook action; ${alert}` : `not detected; ${alert}`;
}

export function pad(s: string, n: number): string {
  return s.length >= n ? s : s + ' '.repeat(n - s.length);
}

/** Removes characters XML 1.0 cannot carry (terminal escapes in logs). */
export function xmlSafe(s: string): string {
  return s.replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/g, '');
}

export function loadLine(r: LoadResult): string {
  const latency = r.latencyMs ? `, p99 ${Math.round(r.latencyMs.p99)} ms (p50 ${Math.round(r.latencyMs.p50)} ms)` : '';
  return `load ${r.phase}: ${r.requests} request(s), ${r.failed} failed (${(r.failureRate * 100).toFixed(1)}%)${latency} in ${r.seconds} s${r.errors.length ? `; e.g. ${r.errors[0]}` : ''}`;
}

/** " (confirmed after 42.3s)" when the window that confirmed recovery ended later than TTR */
export function confirmed(sc: ScenarioReport): string {
  const c = sc.confirmedAfterSeconds;
  return c !== undefined && sc.ttrSeconds !== null && c > sc.ttrSeconds ? ` (confirmed after ${secs(c)})` : '';
}

/** "alert etcdHighFsyncDurations (builtin): fired after 612.3s (pending after 12s; expected within 900s)" */
export function alertLine(a: AlertReport): string {
  const when = [
    a.pendingAfterSeconds !== undefined ? `pending after ${secs(a.pendingAfterSeconds)}` : undefined,
    a.expectedWithin !== undefined ? `expected within ${secs(a.expectedWithin)}` : undefined,
    a.inAlertmanager ? 'in Alertmanager' : undefined,
  ].filter(Boolean);
  const state = a.state === 'fired' ? `fired after ${secs(a.firedAfterSeconds)}` : a.state;
  return `alert ${a.name} (${a.source}): ${state}${when.length ? ` (${when.join('; ')})` : ''}${a.note ? `: ${a.note}` : ''}`;
}

/** "team runbook `./fix.sh`: exit 0 after 3.2s" and its last output lines */
export function runbookExecLines(r: NonNullable<ScenarioReport['runbookExec']>, lastLines = 5): string[] {
  const out = r.output.split('\n').filter((l) => l.trim()).slice(-lastLines);
  return [`team runbook \`${r.command}\`: ${r.timedOut ? 'stopped on the deadline' : `exit ${r.exitCode}`} after ${secs(r.durationSeconds)}`, ...out.map((l) => `  | ${l}`)];
}
