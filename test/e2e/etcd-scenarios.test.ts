// End to end: `faultline run etcd-slow-disk etcd-liveness-kill` on one new kind cluster (single.yaml) that the
// run creates and deletes. Both faults are real (strace on the real etcd process; the kubelet killing etcd
// for a wrong probe in the real static pod manifest). Checks the report and that nothing is left behind:
// no strace attached to any process, the run's cluster gone.
import { afterAll, beforeAll, describe, expect, jest, test } from '@jest/globals';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { assertBuilt, e2eTempDir, kindClusters, runCli, runCluster, cleanUpRun, type CliResult } from './support.js';

jest.setTimeout(40 * 60_000);

const tmp = e2eTempDir('etcd');
const reportDir = join(tmp, 'report');
const env = { FAULTLINE_STATE_DIR: join(tmp, 'state') };
let res: CliResult;
let cluster: string | undefined;

function straces(): string[] {
  const out: string[] = [];
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      const cmd = readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0').join(' ');
      if (cmd.includes('faultline-etcd-fsync-')) out.push(`${p}: ${cmd}`);
    } catch {
      // gone
    }
  }
  return out;
}

beforeAll(async () => {
  assertBuilt();
  res = await runCli(['run', 'etcd-slow-disk', 'etcd-liveness-kill', '--report-dir', reportDir], env, 35 * 60_000, 'etcd');
  cluster = runCluster(res.stderr);
});

afterAll(() => cleanUpRun(cluster, env.FAULTLINE_STATE_DIR, tmp));

describe('faultline run etcd-slow-disk etcd-liveness-kill on a new kind cluster', () => {
  test('both scenarios pass with real signatures', () => {
    expect(res.code).toBe(0);
    const report = JSON.parse(readFileSync(join(reportDir, 'report.json'), 'utf8'));
    const byId = Object.fromEntries(report.scenarios.map((s: any) => [s.id, s]));
    const slow = byId['etcd-slow-disk'];
    const live = byId['etcd-liveness-kill'];
    expect(slow.status).toBe('passed');
    expect(live.status).toBe('passed');
    const sf = slow.findings.find((f: any) => f.detector === 'etcd-disk-latency');
    expect(sf.summary).toMatch(/WAL fsync p99 \d+ ms .*backend commit p99/);
    const lf = live.findings.find((f: any) => f.detector === 'etcd-liveness-restarts');
    expect([lf.summary, ...lf.evidence].join('\n')).toContain('the probe is wrong, etcd is healthy');
    expect(slow.ttdSeconds).toBeLessThan(slow.standardAlert.waitSeconds);
    expect(live.ttdSeconds).toBeLessThan(live.standardAlert.waitSeconds);
    console.log(`[etcd-scenarios] slow-disk TTD ${slow.ttdSeconds}s TTR ${slow.ttrSeconds}s; liveness TTD ${live.ttdSeconds}s TTR ${live.ttrSeconds}s`);
  });

  test('no strace left and the cluster is gone', async () => {
    expect(straces()).toEqual([]);
    expect(cluster).toBeDefined();
    expect(await kindClusters()).not.toContain(cluster);
  });
});
