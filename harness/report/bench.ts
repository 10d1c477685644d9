// Benchmark table: stage times, TTD and TTR per scenario over several runs, next to the standard alert's wait.
import { cpus, release, totalmem } from 'node:os';
import { STAGE_ORDER, type StageName } from '../core/stages.js';
import type { Report, ScenarioReport } from './types.js';

export interface BenchRow {
  id: string;
  runs: number;
  passed: number;
  ttd: number | null;
  ttr: number | null;
  alert: { name: string; waitSeconds: number };
  stages: Partial<Record<StageName, number>>;
}

export function median(xs: number[]): number | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export function benchRows(reports: Report[]): BenchRow[] {
  const byId = new Map<string, ScenarioReport[]>();
  for (const r of reports) for (const s of r.scenarios) byId.set(s.id, [...(byId.get(s.id) ?? []), s]);
  return [...byId.entries()].map(([id, runs]) => {
    const stages: Partial<Record<StageName, number>> = {};
    for (const name of STAGE_ORDER) {
      const m = median(runs.flatMap((r) => r.stages.filter((st) => st.name === name && st.status === 'passed').map((st) => st.durationSeconds)));
      if (m !== null) stages[name] = m;
    }
    const passed = runs.filter((r) => r.status === 'passed');
    return {
      id,
      runs: runs.length,
      passed: passed.length,
      ttd: median(passed.flatMap((r) => (r.ttdSeconds === null ? [] : [r.ttdSeconds]))),
      ttr: median(passed.flatMap((r) => (r.ttrSeconds === null ? [] : [r.ttrSeconds]))),
      alert: runs[0]!.standardAlert,
      stages,
    };
  });
}

const sec = (n: number | null | undefined) => (n === null || n === undefined ? '-' : `${n.toFixed(1)}s`);
const pad = (cells: string[], widths: number[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();

/** Columns padded to their widest cell, two spaces apart. */
export function table(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  return [pad(head, widths), ...rows.map((r) => pad(r, widths))].join('\n');
}

export function renderBench(reports: Report[]): string {
  const rows = benchRows(reports);
  const image = reports.find((r) => r.cluster?.nodeImage)?.cluster.nodeImage ?? "kind's default";
  const machine = `${cpus().length} cores, ${Math.round(totalmem() / 2 ** 30)} GiB, kernel ${release()}, node image ${image}`;
  const summary = table(
    ['scenario', 'passed', 'TTD (median)', 'TTR (median)', 'standard alert', 'alert waits', 'detected sooner by'],
    rows.map((r) => [
      r.id,
      `${r.passed}/${r.runs}`,
      sec(r.ttd),
      sec(r.ttr),
      r.alert.name,
      sec(r.alert.waitSeconds),
      r.ttd === null ? '-' : `${(r.alert.waitSeconds / Math.max(r.ttd, 0.1)).toFixed(0)}x`,
    ]),
  );
  const stages = table(
    ['scenario', ...STAGE_ORDER],
    rows.map((r) => [r.id, ...STAGE_ORDER.map((s) => sec(r.stages[s]))]),
  );
  return `faultline benchmark (${machine}; ${new Date().toISOString()})\n\n${summary}\n\nmedian stage times of passed stages\n${stages}\n\n${wallLines(reports).join('\n')}\n`;
}

/** Per run: its wall time (first start to last end) next to the sum of its scenarios' own stage times; the
 *  difference is what is shared or waited for outside the scenarios (cluster creation for several, teardown). */
export function wallLines(reports: Report[]): string[] {
  return reports.map((r, i) => {
    const wall = (Date.parse(r.endedAt) - Date.parse(r.startedAt)) / 1000;
    const own = r.scenarios.reduce((n, s) => n + s.stages.reduce((m, st) => m + st.durationSeconds, 0), 0);
    return `run ${i + 1}: wall ${sec(wall)}, the scenarios' own times add up to ${sec(own)} (${r.scenarios.length} scenario(s))`;
  });
}
