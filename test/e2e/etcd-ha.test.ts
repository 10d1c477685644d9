// End to end: `faultline run etcd-slow-disk-ha` on a new kind cluster of three control planes (kind-configs/ha.yaml,
// stacked etcd) that the run creates and deletes. Two of the three members get the real slow-disk fault (strace
// delaying the real etcd processes' syncs), the third is left as it was. Checks that the detector names both slow
// members and the fast one, that the runbook heals both and verifies leadership stable over its window, that
// nothing is left on this machine (no strace), and prints the cluster's peak memory (docker stats, sampled every
// 5 s while the run lasts).
import { afterAll, beforeAll, describe, expect, jest, test } from '@jest/globals';
import { execa } from 'execa';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { assertBuilt, e2eTempDir, faultlineStraces, kindClusters, runCli, runCluster, cleanUpRun, type CliResult, expectPassed } from './support.js';

jest.setTimeout(45 * 60_000);

const tmp = e2eTempDir('etcd-ha');
const reportDir = join(tmp, 'report');
const env = { FAULTLINE_STATE_DIR: join(tmp, 'state') };
let res: CliResult;
let cluster: string | undefined;
let report: any;
/** container -> the most memory docker stats saw it use, in MiB */
const peak = new Map<string, number>();

const UNITS: Record<string, number> = { B: 1 / 2 ** 20, KiB: 1 / 1024, MiB: 1, GiB: 1024 };

async function sampleMemory(): Promise<void> {
  const r = await execa('docker', ['stats', '--no-stream', '--format', '{{.Name}}\t{{.MemUsage}}'], { reject: false });
  for (const line of r.stdout.split('\n')) {
    const m = /^(faultline-\S+)\t([\d.]+)(B|KiB|MiB|GiB)\s*\//.exec(line);
    if (m) peak.set(m[1]!, Math.max(peak.get(m[1]!) ?? 0, Number(m[2]) * UNITS[m[3]!]!));
  }
}

beforeAll(async () => {
  assertBuilt();
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      await sampleMemory();
      await new Promise((r) => setTimeout(r, 5_000));
    }
  })();
  try {
    res = await runCli(['run', 'etcd-slow-disk-ha', '--report-dir', reportDir], env, 40 * 60_000, 'etcd-ha');
  } finally {
    sampling = false;
    await sampler;
  }
  cluster = runCluster(res.stderr);
  report = JSON.parse(readFileSync(join(reportDir, 'report.json'), 'utf8'));
});

afterAll(() => cleanUpRun(cluster, env.FAULTLINE_STATE_DIR, tmp));

describe('faultline run etcd-slow-disk-ha on a new three-control-plane kind cluster', () => {
  test('passes: both slow members named with their latencies, the fast one named as fast', () => {
    expectPassed(res, reportDir);
    const sc = report.scenarios[0];
    expect(sc.status).toBe('passed');
    const findings = sc.findings.filter((f: any) => f.detector === 'etcd-disk-latency');
    const slow = new Set(findings.map((f: any) => /etcd member (\S+):/.exec(f.summary)?.[1]));
    expect(slow.size).toBe(2);
    for (const f of findings) {
      const text = [f.summary, ...f.evidence].join('\n');
      expect(text).toMatch(/WAL fsync p99 [\d.]+ m?s .*backend commit p99/);
      expect(text).toMatch(/other members: .*\(slow\).*\(fast\)|other members: .*\(fast\).*\(slow\)/);
      expect(text).toContain('etcd_server_leader_changes_seen_total');
      expect(text).toMatch(/raft index per member .*: (\S+ (leader|follower) committed \d+ applied \d+( \(\d+ behind\))?(, )?){3}$/m);
    }
    console.log(`[etcd-ha] TTD ${sc.ttdSeconds}s TTR ${sc.ttrSeconds}s; slow members ${[...slow].join(', ')}`);
  });

  test('the runbook healed both members and verified leadership stable over its window', () => {
    const sc = report.scenarios[0];
    const healed = sc.remediation.actions.filter((a: string) => /^moved etcd on \S+ to a healthy disk: stopped pid/.test(a));
    expect(healed).toHaveLength(2);
    const verify = sc.stages.find((s: any) => s.name === 'verify');
    expect(verify.status).toBe('passed');
    const elections = String(verify.message).split('; ').filter((d: string) => / leader change\(s\) over 30 s$/.test(d));
    expect(elections).toHaveLength(3);
    console.log(`[etcd-ha] verify: ${elections.join('; ')}`);
  });

  test("nothing left: no strace on this machine, the run's cluster deleted; the cluster's peak memory printed", async () => {
    expect(faultlineStraces(env.FAULTLINE_STATE_DIR)).toEqual([]);
    expect(await kindClusters()).not.toContain(cluster);
    const nodes = [...peak].filter(([n]) => cluster && n.startsWith(cluster));
    expect(nodes.length).toBeGreaterThanOrEqual(3);
    const total = nodes.reduce((t, [, mib]) => t + mib, 0);
    console.log(`[etcd-ha] peak memory (docker stats every 5 s): ${nodes.map(([n, mib]) => `${n} ${mib.toFixed(0)} MiB`).join(', ')}; sum of peaks ${total.toFixed(0)} MiB`);
  });
});
