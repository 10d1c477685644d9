// How long etcd-disk-latency's window lasts, on a FAKE node (helpers/fake-node.ts) whose `curl` answers with
// etcd metrics that grow by a fixed number of syncs per call. Nothing here is a cluster; the windows are real time.
import { afterEach, beforeEach, describe, expect, test } from '@jest/globals';
import type { ClusterRef } from '../../harness/cluster/types.js';
import { EARLY_WINDOW_MS, memberLatency, windowAnswers, type MemberSample } from '../../harness/detectors/etcd-disk-analysis.js';
import { sampleMember } from '../../harness/detectors/etcd-disk-sampling.js';
import { FAKE_CLUSTER, FakeNodeProvider, type FakeNode } from './helpers/fake-node.js';
import { histText } from './fixtures/etcd.js';
import { tempDir } from './helpers/tmp.js';

let tmp: ReturnType<typeof tempDir>;
let provider: FakeNodeProvider;
let cp: FakeNode;
let clusters = 0;

beforeEach(() => {
  tmp = tempDir();
  provider = new FakeNodeProvider(tmp.path);
  cp = provider.node('cp');
});
afterEach(() => tmp.cleanup());

/** cumulative buckets for n observations of one latency (index of the first bucket that holds it) */
const buckets = (n: number, from: number) => Array.from({ length: 15 }, (_, i) => (i >= from ? n : 0));
const FAST = 3; // <= 8 ms
const SLOW = 10; // <= 1.024 s

/** The node's etcd: each scrape (the sampler scrapes every 250 ms in a first window) shows `wal` more fsyncs
 *  and `commit` more commits, all of one latency, up to the `upTo`th scrape. */
function etcd(perScrape: { wal: number; commit: number; slow?: boolean; upTo?: number }): void {
  const from = perScrape.slow ? SLOW : FAST;
  for (let n = 1; n <= 80; n++) {
    const w = Math.min(n, perScrape.upTo ?? n) * perScrape.wal;
    const c = Math.min(n, perScrape.upTo ?? n) * perScrape.commit;
    // with the raft gauges and lines the detector does not read, as a real etcd's /metrics has
    const raft = ['etcd_server_is_leader 1', `etcd_server_proposals_committed_total ${100 + n}`, `etcd_server_proposals_applied_total ${99 + n}`, 'etcd_server_has_leader 1', 'go_goroutines 120'];
    cp.write(`/metrics-${n}.txt`, [histText('etcd_disk_wal_fsync_duration_seconds', buckets(w, from), w * 0.6), histText('etcd_disk_backend_commit_duration_seconds', buckets(c, from), c * 0.6), ...raft, ''].join('\n'));
  }
  cp.stub('curl', 'n=$(cat "$HOME/calls" 2>/dev/null || echo 0); n=$((n+1)); echo $n > "$HOME/calls"; cat "$HOME/metrics-$n.txt"');
}

/** a cluster of its own per test: the sampler remembers scrapes per cluster and node */
const access = () => ({ provider, cluster: { ...FAKE_CLUSTER, name: `fake-${++clusters}` } as ClusterRef });

describe('etcd-disk-latency window (FAKE node)', () => {
  test('a healthy member answers at the first checkpoint, not after the whole window', async () => {
    etcd({ wal: 3, commit: 1 });
    const m = await sampleMember(access(), 'cp');
    expect(m.error).toBeUndefined();
    expect(m.windowSeconds * 1000).toBeGreaterThanOrEqual(EARLY_WINDOW_MS);
    expect(m.windowSeconds).toBeLessThan(1.7);
    expect(memberLatency(m).slow).toBe(false);
  });

  test('a slow member answers as soon as three syncs are slow', async () => {
    etcd({ wal: 3, commit: 3, slow: true });
    const m = await sampleMember(access(), 'cp');
    expect(m.windowSeconds).toBeLessThan(1.7);
    expect(memberLatency(m).slow).toBe(true);
    // the node script keeps the raft gauges through its filter
    expect(m.raft).toEqual({ isLeader: true, committed: expect.any(Number), applied: expect.any(Number) });
    expect(m.raft!.committed - m.raft!.applied).toBe(1);
  });

  test('an idle member (no syncs) waits for the whole window', async () => {
    etcd({ wal: 0, commit: 0 });
    const m = await sampleMember(access(), 'cp', { windowMs: 2_000 });
    expect(m.windowSeconds).toBeGreaterThanOrEqual(2);
  });

  test('fewer than three slow syncs are not an answer: the window goes on', async () => {
    // two slow fsyncs after the first scrape, then none
    etcd({ wal: 1, commit: 0, slow: true, upTo: 3 });
    const m = await sampleMember(access(), 'cp', { windowMs: 1_500 });
    expect(m.windowSeconds).toBeGreaterThanOrEqual(1.5);
  });

  test('no metrics (etcd down): an error at once, not after the window', async () => {
    cp.stub('curl', 'exit 7');
    const t0 = Date.now();
    await expect(sampleMember(access(), 'cp', { windowMs: 3_000 })).rejects.toThrow(/no etcd metrics on cp/);
    expect(Date.now() - t0).toBeLessThan(2_500);
  });

  test('a fresh sample (the runbook verify) always takes its whole window', async () => {
    etcd({ wal: 3, commit: 1 });
    const m = await sampleMember(access(), 'cp', { windowMs: 2_000, fresh: true });
    expect(m.windowSeconds).toBeGreaterThanOrEqual(2);
  });

  test('the window after a first early one is whole', async () => {
    etcd({ wal: 3, commit: 1 });
    const na = access();
    await sampleMember(na, 'cp', { windowMs: 2_000 });
    const second = await sampleMember(na, 'cp', { windowMs: 2_000 });
    expect(second.windowSeconds).toBeGreaterThanOrEqual(2);
  });
});

describe('windowAnswers', () => {
  const hist = (n: number, slow: boolean) => ({ buckets: [0.008, 0.128, 0.256, 0.512, 1.024, Infinity].map((le) => ({ le, count: slow && le < 1 ? 0 : n })), sum: n * (slow ? 0.6 : 0.002), count: n });
  const sample = (windowSeconds: number, wal: number, commit: number, slow = false): MemberSample => ({
    node: 'cp',
    windowSeconds,
    wal: hist(wal, slow),
    commit: hist(commit, slow),
    tookTooLong: [],
    restarts: {},
  });
  test('too short a window never answers', () => expect(windowAnswers(sample(0.4, 10, 10))).toBe(false));
  test('healthy needs two fsyncs and a commit', () => {
    expect(windowAnswers(sample(1.2, 2, 1))).toBe(true);
    expect(windowAnswers(sample(1.2, 1, 1))).toBe(false);
    expect(windowAnswers(sample(1.2, 5, 0))).toBe(false);
  });
  test('slow needs the detector\'s own rule', () => {
    expect(windowAnswers(sample(1.2, 3, 0, true))).toBe(true);
    expect(windowAnswers(sample(1.2, 2, 0, true))).toBe(false);
  });
  test('a member that could not be read does not answer', () => expect(windowAnswers({ ...sample(2, 5, 5), error: 'no etcd metrics' })).toBe(false));
});
