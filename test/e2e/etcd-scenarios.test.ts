// End to end: `faultline run etcd-slow-disk etcd-liveness-kill` on the shared single-node cluster (cluster-pool.ts);
// between the two scenarios the run proves the cluster as it was. Both faults are real (strace on the real etcd
// process; the kubelet killing etcd for a wrong probe in the real static pod manifest). Then etcd-slow-disk again
// with the kernel's write throttle on etcd's cgroup (--fault-param mechanism=blkio), after which `faultline cluster
// check` proves the cluster as `cluster up` left it. Checks the reports and that nothing is left behind: no strace
// of its runs left on this machine (another lane's slow-disk fault may be in place at the same time). A run on a
// cluster of its own making, deleted at the end, is statefulset-scenario.test.ts.
import { afterAll, beforeAll, describe, expect, jest, test } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { assertBuilt, e2eTempDir, faultlineStraces, runCli, type CliResult, expectPassed } from './support.js';
import { sharedCluster } from './cluster-pool.js';

jest.setTimeout(40 * 60_000);

const tmp = e2eTempDir('etcd');
const reportDir = join(tmp, 'report');
const shared = sharedCluster('single');
let res: CliResult;

beforeAll(async () => {
  assertBuilt();
  await shared.acquire();
  res = await runCli(['run', 'etcd-slow-disk', 'etcd-liveness-kill', '--cluster', shared.name, '--report-dir', reportDir], shared.env, 35 * 60_000, 'etcd');
});

afterAll(() => shared.release({ started: [], tmp }));

describe('faultline run etcd-slow-disk etcd-liveness-kill on the shared cluster', () => {
  test('both scenarios pass with real signatures', () => {
    expectPassed(res, reportDir);
    const report = JSON.parse(readFileSync(join(reportDir, 'report.json'), 'utf8'));
    const byId = Object.fromEntries(report.scenarios.map((s: any) => [s.id, s]));
    const slow = byId['etcd-slow-disk'];
    const live = byId['etcd-liveness-kill'];
    expect(slow.status).toBe('passed');
    expect(live.status).toBe('passed');
    const sf = slow.findings.find((f: any) => f.detector === 'etcd-disk-latency');
    // fmtSeconds: "850 ms" below a second, "1.20 s" from one
    expect(sf.summary).toMatch(/WAL fsync p99 [\d.]+ m?s .*backend commit p99/);
    const lf = live.findings.find((f: any) => f.detector === 'etcd-liveness-restarts');
    expect([lf.summary, ...lf.evidence].join('\n')).toContain('the probe is wrong, etcd is healthy');
    expect(slow.ttdSeconds).toBeLessThan(slow.standardAlert.waitSeconds);
    expect(live.ttdSeconds).toBeLessThan(live.standardAlert.waitSeconds);
    // the reset between the two: a cluster the user named is never replaced, so it must be proven as it was
    const provision = live.stages.find((s: any) => s.name === 'provision').message;
    expect(provision).toMatch(new RegExp(`^using cluster ${shared.name} \\(context kind-${shared.name}\\): proven as it was before etcd-slow-disk`));
    console.log(`[etcd-scenarios] between the scenarios: ${provision}`);
    console.log(`[etcd-scenarios] slow-disk TTD ${slow.ttdSeconds}s TTR ${slow.ttrSeconds}s; liveness TTD ${live.ttdSeconds}s TTR ${live.ttrSeconds}s`);
  });

  test('no strace of the run left on this machine', () => {
    expect(faultlineStraces(shared.env.FAULTLINE_STATE_DIR)).toEqual([]);
  });
});

describe('faultline run etcd-slow-disk --fault-param mechanism=blkio on the shared cluster', () => {
  const blkioDir = join(tmp, 'blkio');
  let bres: CliResult;

  beforeAll(async () => {
    bres = await runCli(['run', 'etcd-slow-disk', '--cluster', shared.name, '--fault-param', 'mechanism=blkio', '--fault-param', 'writeIops=10', '--report-dir', join(blkioDir, 'report')], shared.env, 20 * 60_000, 'etcd-blkio');
  });

  test("the kernel's write limit on etcd's disk is detected, removed by the runbook, and the run passes", async () => {
    expectPassed(bres, join(blkioDir, 'report'));
    expect(bres.stderr).toMatch(/may write 10 IOPS to disk \d+:\d+/);
    const report = JSON.parse(readFileSync(join(blkioDir, 'report', 'report.json'), 'utf8'));
    const slow = report.scenarios[0];
    expect(slow.status).toBe('passed');
    const f = slow.findings.find((x: any) => x.detector === 'etcd-disk-latency');
    expect(f.summary).toMatch(/WAL fsync p99 [\d.]+ m?s .*backend commit p99/);
    expect(slow.remediation.actions.join('\n')).toMatch(/removed the 10 IOPS write limit on \d+:\d+ from its cgroup/);
    // the kernel's limit alone: no strace went in (the journal's record of the fault says which mechanism did)
    const journal = JSON.parse(readFileSync(join(shared.env.FAULTLINE_STATE_DIR, 'journal', `${report.runId}.json`), 'utf8'));
    expect(journal.entries.filter((e: any) => e.faultType === 'etcd-fsync-delay').map((e: any) => e.record.mechanism)).toEqual(['blkio']);
    console.log(`[etcd-scenarios] slow-disk (blkio, 10 IOPS) TTD ${slow.ttdSeconds}s TTR ${slow.ttrSeconds}s`);
  });

  test('`faultline cluster check` proves the cluster as `cluster up` left it', async () => {
    const check = await runCli(['cluster', 'check', shared.name], shared.env, 5 * 60_000, 'cluster-check');
    expect({ code: check.code, out: check.stdout }).toEqual({ code: 0, out: expect.stringMatching(/: proven as it was at /) });
  });
});
