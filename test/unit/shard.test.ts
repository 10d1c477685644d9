// `run --shard I/N` and `report merge` without a cluster: the split is a partition (every scenario in exactly one
// shard, for any catalog and N, fast-check), deterministic, balanced by measured durations; merge joins shard
// reports and refuses one scenario in two of them. Reports here are built in the test (fakes, said so).
import { describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import { assignShards, durationsFrom, parseShard, pickShard } from '../../harness/engine/shard.js';
import { MergeError, mergeReports } from '../../harness/report/merge.js';
import { render } from '../../harness/report/render.js';
import type { Report, ScenarioReport } from '../../harness/report/types.js';

const scenario = (id: string, seconds: number, status: ScenarioReport['status'] = 'passed'): ScenarioReport => ({
  id,
  title: id,
  status,
  ttdSeconds: 1,
  ttrSeconds: 2,
  standardAlert: { name: 'X', waitSeconds: 60 },
  stages: [{ name: 'deploy', status: 'passed', startedAt: '2026-12-02T00:00:00Z', endedAt: '2026-12-02T00:00:01Z', durationSeconds: seconds, deadlineSeconds: 600 }],
  findings: [],
  integrity: [],
});
const report = (runId: string, scenarios: ScenarioReport[], startedAt = '2026-12-02T00:00:00.000Z', endedAt = '2026-12-02T00:10:00.000Z'): Report => ({
  schemaVersion: 1,
  tool: { name: 'faultline', version: '0.1.0' },
  runId,
  startedAt,
  endedAt,
  cluster: { provider: 'kind', name: `c-${runId}` },
  scenarios,
});

describe('--shard', () => {
  test('parses I/N and refuses what is not', () => {
    expect(parseShard('2/3')).toEqual({ index: 2, count: 3 });
    for (const bad of ['0/3', '4/3', '1/0', '3', 'a/b', '1/65', '-1/2']) expect(() => parseShard(bad)).toThrow(/is not I\/N/);
  });

  test('every scenario falls to exactly one shard, the same way every time', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.stringMatching(/^[a-z][a-z0-9-]{0,12}$/), { maxLength: 30 }), fc.integer({ min: 1, max: 8 }), fc.array(fc.nat(5000)), (ids, n, secs) => {
        const durations = new Map(ids.flatMap((id, i) => (secs[i] === undefined ? [] : [[id, secs[i]!] as [string, number]])));
        const shards = assignShards(ids, durations, n);
        expect(shards).toHaveLength(n);
        expect(shards.flat().sort()).toEqual([...ids].sort());
        expect(assignShards([...ids].reverse(), durations, n).map((s) => [...s].sort())).toEqual(shards.map((s) => [...s].sort()));
      }),
    );
  });

  test('measured durations balance the shards: the long scenarios are spread, the short ones fill in', () => {
    const ids = ['a', 'b', 'c', 'd', 'e', 'f'];
    const durations = new Map([['a', 600], ['b', 550], ['c', 100], ['d', 90], ['e', 80], ['f', 500]]);
    const shards = assignShards(ids, durations, 3);
    const loads = shards.map((s) => s.reduce((t, id) => t + durations.get(id)!, 0));
    expect(Math.max(...loads) - Math.min(...loads)).toBeLessThanOrEqual(100);
    expect(shards.map((s) => s.filter((id) => durations.get(id)! >= 500))).toEqual(shards.map((s) => [s.find((id) => durations.get(id)! >= 500)]));
  });

  test('durations come from reports (the sum of stages; skipped scenarios measure nothing), and pick keeps catalog order', () => {
    const d = durationsFrom([report('r1', [scenario('a', 30), scenario('b', 10, 'skipped')]), report('r2', [scenario('c', 20)])]);
    expect([...d.entries()]).toEqual([['a', 30], ['c', 20]]);
    const all = ['a', 'b', 'c', 'd'].map((id) => ({ id }));
    const picked = [1, 2].flatMap((i) => pickShard(all, { index: i, count: 2 }, d).map((s) => s.id));
    expect(picked.sort()).toEqual(['a', 'b', 'c', 'd']);
    expect(pickShard(all, { index: 3, count: 5 }, d).length + pickShard(all, { index: 5, count: 5 }, d).length).toBeLessThanOrEqual(2);
  });
});

describe('report merge', () => {
  test('joins shard reports: every scenario once, the run spans them all, every format renders it', () => {
    const m = mergeReports([
      { source: 'shard-1', report: report('r1', [scenario('b', 5), scenario('a', 5, 'failed')], '2026-12-02T00:01:00.000Z', '2026-12-02T00:09:00.000Z') },
      { source: 'shard-2', report: report('r2', [scenario('c', 5)], '2026-12-02T00:00:30.000Z', '2026-12-02T00:12:00.000Z') },
    ]);
    expect(m.scenarios.map((s) => `${s.id} ${s.status}`)).toEqual(['a failed', 'b passed', 'c passed']);
    expect(m).toMatchObject({ runId: 'r1+r2', startedAt: '2026-12-02T00:00:30.000Z', endedAt: '2026-12-02T00:12:00.000Z', cluster: { provider: 'kind', name: 'c-r1,c-r2' } });
    const junit = render(m, 'junit');
    expect(junit).toMatch(/tests="3"/);
    expect(junit).toMatch(/failures="1"/);
    for (const f of ['markdown', 'html', 'text'] as const) expect(render(m, f)).toContain('c');
  });

  test('one scenario in two reports is refused, naming both', () => {
    expect(() => mergeReports([{ source: 'x/report.json', report: report('r1', [scenario('a', 1)]) }, { source: 'y', report: report('r2', [scenario('a', 1)]) }])).toThrow(
      new MergeError('scenario a is in both x/report.json and y'),
    );
    expect(() => mergeReports([])).toThrow(MergeError);
  });
});
