// Bench aggregation over report objects built here (no cluster).
import { describe, expect, test } from '@jest/globals';
import { benchRows, median, renderBench } from '../../harness/report/bench.js';
import type { Report, ScenarioReport } from '../../harness/report/types.js';

function scenario(status: 'passed' | 'failed', ttd: number | null, ttr: number | null, detect: number): ScenarioReport {
  const st = (name: any, d: number, s: any = 'passed') => ({ name, status: s, startedAt: '', endedAt: '', durationSeconds: d, deadlineSeconds: 60 });
  return {
    id: 'sts',
    title: 't',
    status,
    ttdSeconds: ttd,
    ttrSeconds: ttr,
    standardAlert: { name: 'KubeStatefulSetReplicasMismatch', waitSeconds: 900 },
    stages: [st('provision', 30), st('detect', detect, status === 'passed' ? 'passed' : 'failed')],
    findings: [],
    integrity: [],
  } as unknown as ScenarioReport;
}
const report = (s: ScenarioReport) => ({ schemaVersion: 1, startedAt: '2026-12-01T10:00:00Z', endedAt: '2026-12-01T10:01:05Z', scenarios: [s], cluster: { provider: 'kind', name: 'x', nodeImage: 'img:1' } }) as unknown as Report;

describe('bench', () => {
  test('median of odd and even samples, none for empty', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([])).toBeNull();
  });

  test('TTD and TTR medians come from passed runs only; failed stages are not timed', () => {
    const rows = benchRows([report(scenario('passed', 2, 10, 2)), report(scenario('passed', 4, 20, 4)), report(scenario('failed', null, null, 120))]);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ id: 'sts', runs: 3, passed: 2, ttd: 3, ttr: 15 });
    expect(rows[0]!.stages.detect).toBe(3);
    expect(rows[0]!.stages.provision).toBe(30);
  });

  test('the table puts TTD next to the standard alert and says how much sooner', () => {
    const out = renderBench([report(scenario('passed', 3, 10, 3))]);
    expect(out).toContain('KubeStatefulSetReplicasMismatch');
    expect(out).toContain('900.0s');
    expect(out).toContain('300x');
    expect(out).toContain('node image img:1');
    expect(out).toContain("run 1: wall 65.0s, the scenarios' own times add up to 33.0s (1 scenario(s))");
  });
});
