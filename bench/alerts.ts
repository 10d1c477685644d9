// `make bench-alerts`: when the standard alerts (the upstream etcd-mixin and kubernetes-mixin rules, as the
// alerting stack deploys them) fire during a real fault, against faultline's own TTD in the same run. Each case is
// one `faultline run --expect-alert ...` on a new kind cluster, the fault held until its alerts fire or WITHIN
// seconds pass (default 1200, 20 minutes). Measures and prints; it asserts nothing.
//   CASES=slow-disk-500ms,liveness   only these cases        WITHIN=600   hold at most 10 minutes
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { table } from '../harness/report/bench.js';
import type { Report } from '../harness/report/types.js';
import { benchEnv, cliWith, machineLine } from './common.js';

interface Case {
  name: string;
  scenario: string;
  faultParams: string[];
  /** the standard alerts a team would count on for this incident */
  expect: string[];
}

const ALL: Case[] = [
  { name: 'slow-disk-500ms', scenario: 'etcd-slow-disk', faultParams: ['delayMs=500'], expect: ['etcdHighFsyncDurations', 'etcdHighCommitDurations'] },
  { name: 'slow-disk-2s', scenario: 'etcd-slow-disk', faultParams: ['delayMs=2000'], expect: ['etcdHighFsyncDurations', 'etcdHighCommitDurations'] },
  { name: 'liveness', scenario: 'etcd-liveness-kill', faultParams: [], expect: ['etcdMembersDown', 'etcdNoLeader', 'KubeAPIDown', 'KubePodCrashLooping'] },
  { name: 'control-plane-certs', scenario: 'stale-certs-control-plane', faultParams: [], expect: ['KubeClientCertificateExpiration', 'KubeAPIDown', 'KubeControllerManagerDown', 'KubeSchedulerDown'] },
];

const within = Number(process.env.WITHIN ?? 1200);
const only = process.env.CASES?.split(',').map((s) => s.trim()).filter(Boolean);
const cli = cliWith(benchEnv('alerts'));

interface Row {
  case: string;
  alert: string;
  state: string;
  pending: number | undefined;
  fired: number | undefined;
  ttd: number | null;
  note?: string;
}

const fmt = (n: number | null | undefined) => (n === null || n === undefined ? '-' : n.toFixed(1));

async function runCase(c: Case): Promise<Row[]> {
  const dir = mkdtempSync(join(tmpdir(), `faultline-bench-alerts-${c.name}-`));
  const args = ['run', c.scenario, '--report-dir', dir, '-o', 'json', ...c.faultParams.flatMap((p) => ['--fault-param', p]), ...c.expect.flatMap((a) => ['--expect-alert', `${a}=${within}`])];
  const t0 = Date.now();
  console.error(`bench-alerts: ${c.name}: faultline ${args.join(' ')}`);
  const r = await cli(args);
  const minutes = ((Date.now() - t0) / 60_000).toFixed(1);
  let report: Report;
  try {
    report = JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8')) as Report;
  } catch {
    throw new Error(`${c.name}: no report (exit ${r.exitCode}): ${r.stderr.trim().split('\n').pop()}`);
  }
  const sc = report.scenarios[0]!;
  console.error(`bench-alerts: ${c.name}: ${sc.status} in ${minutes} min${sc.reason ? ` (${sc.reason.split('\n')[0]})` : ''}`);
  const rows: Row[] = (sc.alerts ?? []).map((a) => ({ case: c.name, alert: a.name, state: a.state, pending: a.pendingAfterSeconds, fired: a.firedAfterSeconds, ttd: sc.ttdSeconds, ...(a.note ? { note: a.note } : {}) }));
  if (!rows.length) rows.push({ case: c.name, alert: '(none read)', state: '-', pending: undefined, fired: undefined, ttd: sc.ttdSeconds, note: sc.reason?.split('\n')[0] });
  return rows;
}

function print(rows: Row[]): void {
  const head = ['case', 'alert', 'state', 'pending s', 'fired s', 'faultline TTD s', 'fired/TTD'];
  const body = rows.map((r) => [r.case, r.alert, r.state, fmt(r.pending), fmt(r.fired), fmt(r.ttd), r.fired !== undefined && r.ttd ? `${(r.fired / r.ttd).toFixed(0)}x` : '-']);
  console.log(table(head, body));
  const notes = rows.filter((r) => r.note);
  if (notes.length) console.log(notes.map((r) => `${r.case} ${r.alert}: ${r.note}`).join('\n'));
}

async function main(): Promise<number> {
  const cases = only ? ALL.filter((c) => only.includes(c.name)) : ALL;
  if (!cases.length) {
    console.error(`bench-alerts: CASES names none of ${ALL.map((c) => c.name).join(', ')}`);
    return 2;
  }
  console.log(machineLine());
  console.log(`bench-alerts: ${cases.length} cases, the fault held until the expected standard alerts fire or ${within} s pass; times in seconds from the end of inject`);
  const rows: Row[] = [];
  for (const c of cases) rows.push(...(await runCase(c)));
  print(rows);
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err: Error) => {
    console.error(`bench-alerts: ${err.message}`);
    process.exit(2);
  },
);
