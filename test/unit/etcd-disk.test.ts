// etcd-disk-latency: histogram math and the analysis on fixture metrics (no cluster).
import { describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import {
  analyzeEtcdDisk,
  memberFromScrapes,
  memberLatency,
  restartsFromLogList,
  scrapeFromText,
  type EtcdDiskSnapshot,
  type MemberSample,
} from '../../harness/detectors/etcd-disk-analysis.js';
import { parseNodeRead } from '../../harness/detectors/etcd-disk-sampling.js';
import { countAbove, deltaHistogram, histogram, parseProm, quantile } from '../../harness/detectors/prom-text.js';
import { builtinDetectors } from '../../harness/detectors/registry.js';
import { pickSlowMembers } from '../../harness/runbooks/etcd-slow-disk.js';
import { chooseMembers } from '../../harness/faults/etcd-members-fsync-delay.js';
import { findOurStraces, isOurStrace, stopProcess, straceArgv } from '../../harness/faults/strace-delay.js';
import type { ProcessHost } from '../../harness/cluster/process-host.js';
import { LocalProcessHost } from '../../harness/cluster/process-host.js';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HEALTHY_T0, HEALTHY_T1, SLOW_T1, histText } from './fixtures/etcd.js';

const NOW = '2026-11-21T05:31:20.000Z';
const T = new Date(NOW).getTime();

function member(later: string, earlier = HEALTHY_T0, extra: Partial<MemberSample> = {}): MemberSample {
  return { ...memberFromScrapes('cp-1', scrapeFromText(earlier, T - 5000), scrapeFromText(later, T), [], { 'kube-controller-manager': 0 }), ...extra };
}

describe('histogram math', () => {
  test('parsing with prefixes keeps exactly the samples whose names start with them (property)', () => {
    const name = fc.constantFrom('etcd_request_duration_seconds_bucket', 'etcd_request_total', 'apiserver_request_duration_seconds_count', 'apiserver_x', 'go_gc', 'e', 'etcd');
    const line = fc.oneof(
      fc.tuple(name, fc.constantFrom('', '{le="0.5"}', '{verb="GET",le="+Inf"}'), fc.nat(1000)).map(([n, l, v]) => `${n}${l} ${v}`),
      fc.constantFrom('# HELP etcd_request_total x', '# TYPE apiserver_x counter', ''),
    );
    fc.assert(
      fc.property(fc.array(line, { maxLength: 40 }), fc.subarray(['etcd_request_duration_seconds', 'apiserver_request_duration_seconds', 'etcd']), (lines, prefixes) => {
        const text = lines.join('\n');
        const want = parseProm(text).filter((x) => prefixes.some((p) => x.name.startsWith(p)));
        const got = parseProm(text, prefixes);
        const key = (x: { name: string; labels: object; value: number }) => JSON.stringify(x);
        expect(got.map(key).sort()).toEqual(want.map(key).sort());
      }),
    );
  });

  test('p99 interpolates inside the bucket like histogram_quantile', () => {
    const h = histogram(parseProm(histText('x', [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 100, 100, 100, 100, 100], 60)), 'x')!;
    // all 100 observations in (0.512, 1.024]: rank 99 -> 0.512 + 0.512 * 99/100
    expect(quantile(0.99, h)).toBeCloseTo(0.512 + 0.512 * 0.99, 6);
    expect(quantile(0.5, h)).toBeCloseTo(0.768, 6);
    expect(countAbove(h, 0.1)).toBe(100);
  });

  test('the +Inf bucket yields the highest finite bound; no observations yields undefined', () => {
    const inf = histogram(parseProm(histText('x', [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5], 99)), 'x')!;
    expect(quantile(0.99, inf)).toBe(8.192);
    const none = histogram(parseProm(histText('x', new Array(15).fill(0), 0)), 'x')!;
    expect(quantile(0.99, none)).toBeUndefined();
  });

  test('delta between scrapes keeps only the window; a counter reset uses the later scrape', () => {
    const a = histogram(parseProm(HEALTHY_T0), 'etcd_disk_wal_fsync_duration_seconds')!;
    const b = histogram(parseProm(SLOW_T1), 'etcd_disk_wal_fsync_duration_seconds')!;
    const d = deltaHistogram(b, a);
    expect(d.count).toBe(7);
    expect(quantile(0.99, d)!).toBeGreaterThan(0.5);
    // since boot the same scrape looks healthy at p95: old samples dilute the fault
    expect(quantile(0.95, b)!).toBeLessThan(0.1);
    expect(deltaHistogram(a, b).count).toBe(a.count);
  });

  test('labels are parsed and series summed', () => {
    const text = 'y_bucket{op="get",le="0.1"} 1\ny_bucket{op="get",le="+Inf"} 2\ny_bucket{op="list",le="0.1"} 3\ny_bucket{op="list",le="+Inf"} 3\ny_count{op="get"} 2\ny_count{op="list"} 3';
    const h = histogram(parseProm(text), 'y')!;
    expect(h.buckets).toEqual([
      { le: 0.1, count: 4 },
      { le: Infinity, count: 5 },
    ]);
    expect(h.count).toBe(5);
  });
});

describe('etcd-disk-latency analysis', () => {
  test('healthy window is quiet (p99 of a few ms)', () => {
    const m = member(HEALTHY_T1);
    const l = memberLatency(m);
    expect(l.walP99!).toBeLessThan(0.01);
    expect(l.slow).toBe(false);
    const snap: EtcdDiskSnapshot = { kind: 'etcd-disk', takenAt: NOW, members: [m] };
    expect(analyzeEtcdDisk(snap)).toEqual([]);
  });

  test('slow window is named with p99s, log warnings, leader changes and restarts', () => {
    const tooLong = ['2026-11-21T05:31:10.1Z', '2026-11-21T05:31:15.2Z', '2026-11-21T04:00:00Z'];
    const m = member(SLOW_T1, HEALTHY_T0, { tookTooLong: tooLong, restarts: { 'kube-controller-manager': 2, 'kube-scheduler': 1 } });
    const [f, ...rest] = analyzeEtcdDisk({ kind: 'etcd-disk', takenAt: NOW, members: [m] });
    expect(rest).toEqual([]);
    expect(f!.detector).toBe('etcd-disk-latency');
    expect(f!.runbook).toBe('etcd-slow-disk');
    expect(f!.resources[0]).toBe('kube-system/Pod/etcd-cp-1');
    expect(f!.summary).toMatch(/^etcd member cp-1: WAL fsync p99 1\.0\d s \(normal < 10 ms\), backend commit p99 2\.0\d s/);
    expect(f!.summary).toContain("'apply request took too long' x2");
    expect(f!.summary).toContain('leader changes 2');
    expect(f!.summary).toContain('kube-controller-manager restarts 2');
    expect(f!.evidence.join('\n')).toContain('7 of 7 fsyncs above 100 ms');
  });

  test('one slow fsync on a busy machine is not a slow disk', () => {
    // one fsync of the window in (0.256, 0.512]
    const one = HEALTHY_T1.replace('etcd_disk_wal_fsync_duration_seconds_bucket{le="0.128"} 655', 'etcd_disk_wal_fsync_duration_seconds_bucket{le="0.128"} 654').replace(
      'etcd_disk_wal_fsync_duration_seconds_bucket{le="0.256"} 657',
      'etcd_disk_wal_fsync_duration_seconds_bucket{le="0.256"} 656',
    );
    const m = member(one);
    expect(memberLatency(m).walSlow).toBe(1);
    expect(analyzeEtcdDisk({ kind: 'etcd-disk', takenAt: NOW, members: [m] })).toEqual([]);
  });

  test('a disk so slow that only one or two syncs finish in the window still counts (each >= 1 s)', () => {
    const h = (sum: number, count: number, slowFrom: number) => ({
      buckets: [
        { le: 0.1, count: count - slowFrom },
        { le: 4.096, count },
        { le: Infinity, count },
      ],
      count,
      sum,
    });
    const base = { node: 'cp', windowSeconds: 5, tookTooLong: [], restarts: {} };
    expect(memberLatency({ ...base, wal: h(4.1, 2, 2) }).slow).toBe(true);
    // two slow-ish syncs (0.3 s mean) on a busy machine: not enough
    expect(memberLatency({ ...base, wal: h(0.6, 2, 2) }).slow).toBe(false);
    // one fast and one slow: not every sync is slow
    expect(memberLatency({ ...base, wal: h(2.0, 2, 1) }).slow).toBe(false);
  });

  test('API fallback: the API server seeing slow etcd requests', () => {
    const slow = histogram(parseProm(histText('etcd_request_duration_seconds', [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5, 20, 20, 20, 20], 20)), 'etcd_request_duration_seconds')!;
    const [f] = analyzeEtcdDisk({ kind: 'etcd-disk', takenAt: NOW, members: [], api: { windowSeconds: 5, hist: slow } });
    expect(f!.summary).toMatch(/etcd_request_duration_seconds p99 2\.\d+ s/);
    const fast = histogram(parseProm(histText('etcd_request_duration_seconds', [10, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20], 0.02)), 'etcd_request_duration_seconds')!;
    expect(analyzeEtcdDisk({ kind: 'etcd-disk', takenAt: NOW, members: [], api: { windowSeconds: 5, hist: fast } })).toEqual([]);
  });

  test("with node access, the API's view adds API request latency to the member's finding and no finding of its own", () => {
    const T0 = Date.parse(NOW) - 10_000;
    const m = memberFromScrapes('cp', scrapeFromText(HEALTHY_T0, T0), scrapeFromText(SLOW_T1, T0 + 5_000), [], {});
    const etcd = histogram(parseProm(histText('etcd_request_duration_seconds', [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5, 20, 20, 20, 20], 20)), 'etcd_request_duration_seconds')!;
    const text = [
      'apiserver_request_duration_seconds_bucket{verb="GET",le="0.1"} 10',
      'apiserver_request_duration_seconds_bucket{verb="GET",le="1"} 10',
      'apiserver_request_duration_seconds_bucket{verb="GET",le="4"} 40',
      'apiserver_request_duration_seconds_bucket{verb="GET",le="+Inf"} 40',
      'apiserver_request_duration_seconds_count{verb="GET"} 40',
      'apiserver_request_duration_seconds_bucket{verb="WATCH",le="0.1"} 0',
      'apiserver_request_duration_seconds_bucket{verb="WATCH",le="+Inf"} 900',
    ].join('\n');
    const requests = histogram(parseProm(text), 'apiserver_request_duration_seconds', (l) => l.verb !== 'WATCH')!;
    const findings = analyzeEtcdDisk({ kind: 'etcd-disk', takenAt: NOW, members: [m], api: { windowSeconds: 5, hist: etcd, requests } });
    expect(findings).toHaveLength(1);
    expect(findings[0]!.evidence.join('\n')).toMatch(/API request p99 [23]\.\d+ s \(40 requests, WATCH\/CONNECT excluded/);
    expect(findings[0]!.evidence.join('\n')).toMatch(/API server's etcd request p99 2\.\d+ s/);
    const down = analyzeEtcdDisk({ kind: 'etcd-disk', takenAt: NOW, members: [m], api: { windowSeconds: 0, error: 'GET /metrics: no answer within 4s' } });
    expect(down[0]!.evidence).toContain('API server /metrics: GET /metrics: no answer within 4s');
  });

  test('other snapshot shapes are ignored (detectors share scanAll)', () => {
    const d = builtinDetectors().get('etcd-disk-latency')!;
    expect(d.analyze({ takenAt: NOW, pods: [], statefulSets: [], events: [] })).toEqual([]);
  });

  test('node read: metrics, warning timestamps and restart counts from N.log files', () => {
    const out = `${SLOW_T1}\n---SLOW\n2026-11-21T05:31:10.1Z\n---RESTARTS\nkube-controller-manager /var/log/pods/kube-system_kube-controller-manager-x_1/kube-controller-manager/0.log\nkube-controller-manager /var/log/pods/kube-system_kube-controller-manager-x_1/kube-controller-manager/3.log\nkube-scheduler /var/log/pods/kube-system_kube-scheduler-x_1/kube-scheduler/0.log\n`;
    const r = parseNodeRead(out, T);
    expect(r.scrape.wal!.count).toBe(656);
    expect(r.tookTooLong).toEqual(['2026-11-21T05:31:10.1Z']);
    expect(r.restarts).toEqual({ 'kube-controller-manager': 3, 'kube-scheduler': 0 });
    expect(restartsFromLogList(['garbage'])).toEqual({});
    expect(r.leaseLost).toEqual([]);
  });

  test("leader-elected components' 'leaderelection lost' lines become evidence, counted in the log window", () => {
    const out = `${SLOW_T1}\n---SLOW\n---RESTARTS\nkube-scheduler /p/kube-scheduler/1.log\n---LEASES\nkube-controller-manager 2026-11-21T05:31:10.1Z\nkube-scheduler 2026-11-21T05:31:12.0Z\nkube-scheduler 2026-11-21T04:00:00.0Z\n`;
    const r = parseNodeRead(out, T);
    expect(r.leaseLost).toEqual([
      { component: 'kube-controller-manager', at: '2026-11-21T05:31:10.1Z' },
      { component: 'kube-scheduler', at: '2026-11-21T05:31:12.0Z' },
      { component: 'kube-scheduler', at: '2026-11-21T04:00:00.0Z' },
    ]);
    const m = memberFromScrapes('cp', scrapeFromText(HEALTHY_T0, T - 5_000), r.scrape, [], r.restarts, r.leaseLost);
    const ev = analyzeEtcdDisk({ kind: 'etcd-disk', takenAt: '2026-11-21T05:32:00Z', members: [m] })[0]!.evidence;
    expect(ev).toContain("kube-controller-manager log: 'leaderelection lost' x1 in the last 5 min (lease not renewed in time)");
    expect(ev).toContain("kube-scheduler log: 'leaderelection lost' x1 in the last 5 min (lease not renewed in time)");
  });

  test('the runbook names every slow member by commit latency, and the fast ones as fast', () => {
    const fast = { ...member(HEALTHY_T1), node: 'cp-2' };
    const slow = member(SLOW_T1);
    const r = pickSlowMembers([fast, slow]);
    expect(r.slow.map((m) => m.node)).toEqual(['cp-1']);
    expect(r.lines[0]).toMatch(/^cp-1: backend commit p99 2\.\d+ s.*<- slow$/);
    expect(r.lines[1]).toMatch(/^cp-2: .*\(fast\)$/);
    // two of three slow (the HA shape): both named, slowest first
    const alsoSlow = { ...member(SLOW_T1), node: 'cp-3' };
    expect(pickSlowMembers([fast, slow, alsoSlow]).slow.map((m) => m.node).sort()).toEqual(['cp-1', 'cp-3']);
    expect(pickSlowMembers([fast]).slow).toEqual([]);
  });
});

describe('etcd-fsync-delay strace identity', () => {
  const rec = { etcdHostPid: 4242, delayMs: 500, straceOut: '/tmp/faultline-etcd-fsync-abc123.strace', token: 'faultline-etcd-fsync-abc123' };

  test('argv delays fdatasync and fsync in microseconds and carries the token', () => {
    const argv = straceArgv('/usr/bin/strace', rec);
    expect(argv).toEqual(expect.arrayContaining(['-f', 'inject=fdatasync:delay_enter=500000', 'inject=fsync:delay_enter=500000', '-p', '4242']));
    expect(isOurStrace(argv, rec.token)).toBe(true);
    expect(isOurStrace(argv, 'faultline-etcd-fsync-other')).toBe(false);
    expect(isOurStrace(['/usr/bin/bash', rec.token], rec.token)).toBe(false);
  });

  test('a tracer that outlives SIGTERM gets SIGKILL once the grace has passed on the clock, however slow each look is', async () => {
    // a fake host (no process): every look at the pid costs a second, as an exec through a slow API server may
    let clock = 0;
    let looks = 0;
    const signals: string[] = [];
    const host = {
      async alive() {
        looks++;
        clock += 1_000;
        return true;
      },
      async signal(_pid: number, sig: string) {
        signals.push(sig);
        return true;
      },
    } as unknown as ProcessHost;
    expect(await stopProcess(host, 777, 5_000, () => clock)).toBe('killed');
    expect(signals).toEqual(['SIGTERM', 'SIGKILL']);
    expect(looks).toBeLessThanOrEqual(7);
  });

  test('found through etcd TracerPid and by scanning /proc', async () => {
    const proc = mkdtempSync(join(tmpdir(), 'fl-proc-'));
    const mk = (pid: number, status: string, cmdline: string[]) => {
      mkdirSync(join(proc, String(pid)));
      writeFileSync(join(proc, String(pid), 'status'), status);
      writeFileSync(join(proc, String(pid), 'cmdline'), cmdline.join('\0') + '\0');
    };
    mk(4242, 'Name:\tetcd\nTracerPid:\t777\n', ['etcd', '--data-dir=/var/lib/etcd']);
    mk(777, 'Name:\tstrace\nTracerPid:\t0\n', straceArgv('/usr/bin/strace', rec));
    mk(900, 'Name:\tstrace\nTracerPid:\t0\n', ['/usr/bin/strace', '-p', '1']);
    expect(await findOurStraces(new LocalProcessHost(proc), rec)).toEqual([777]);
  });
});

describe('etcd-disk-latency on three members, two slow (the HA shape)', () => {
  const raft = (isLeader: number, committed: number, applied: number) =>
    `etcd_server_is_leader ${isLeader}\netcd_server_proposals_committed_total ${committed}\netcd_server_proposals_applied_total ${applied}\n`;
  const at = (node: string, later: string, r: string) => memberFromScrapes(node, scrapeFromText(HEALTHY_T0, T - 5000), scrapeFromText(`${later}\n${r}`, T), [], {});

  test('each slow member is a finding naming the others as slow or fast, with every member raft role and index', () => {
    const members = [at('cp-1', SLOW_T1, raft(1, 5000, 5000)), at('cp-2', SLOW_T1, raft(0, 4990, 4980)), at('cp-3', HEALTHY_T1, raft(0, 5000, 5000))];
    const findings = analyzeEtcdDisk({ kind: 'etcd-disk', takenAt: NOW, members });
    expect(findings.map((f) => f.resources[0])).toEqual(['kube-system/Pod/etcd-cp-1', 'kube-system/Pod/etcd-cp-2']);
    const ev = findings[0]!.evidence.join('\n');
    expect(ev).toMatch(/other members: cp-2 commit p99 [\d.]+ m?s \(slow\), cp-3 commit p99 [\d.]+ m?s \(fast\)/);
    expect(ev).toContain('raft index per member (etcd_server_proposals_committed_total, etcd_server_proposals_applied_total): cp-1 leader committed 5000 applied 5000, cp-2 follower committed 4990 applied 4980 (20 behind), cp-3 follower committed 5000 applied 5000');
  });

  test('without raft metrics (an older etcd) or with one member, no raft line', () => {
    const one = analyzeEtcdDisk({ kind: 'etcd-disk', takenAt: NOW, members: [at('cp-1', SLOW_T1, raft(1, 10, 10))] });
    expect(one[0]!.evidence.join('\n')).not.toContain('raft index');
    const older = analyzeEtcdDisk({ kind: 'etcd-disk', takenAt: NOW, members: [at('cp-1', SLOW_T1, ''), at('cp-2', HEALTHY_T1, '')] });
    expect(older[0]!.evidence.join('\n')).not.toContain('raft index');
  });
});

describe('etcd-members-fsync-delay member choice', () => {
  test('the first N control-plane nodes by name are slowed; at least one stays fast', () => {
    expect(chooseMembers(['c-control-plane3', 'c-control-plane', 'c-control-plane2'], 2)).toEqual({ slow: ['c-control-plane', 'c-control-plane2'], fast: ['c-control-plane3'] });
    expect(() => chooseMembers(['c-control-plane'], 1)).toThrow(/1 slow member\(s\) need at least 2 control-plane nodes .* the cluster has 1: use kind-configs\/ha\.yaml/);
    expect(() => chooseMembers(['a', 'b'], 2)).toThrow(/need at least 3/);
  });
});
