// Reads etcd's metrics and logs on each control-plane node (node exec) over a recent window, or without node
// access the API server's view of etcd request latency.
import type { KubeContext } from '../cluster/context.js';
import { apiRawGet } from '../cluster/api-raw.js';
import { controlPlaneNodes, nodeAccess, nodeSh, type NodeAccess } from '../cluster/node-access.js';
import { sleep } from '../core/poll.js';
import { deltaHistogram, histogram, parseProm } from './prom-text.js';
import { EARLY_WINDOW_MS, leaseLossesFromLines, MAX_WINDOW_MS, memberFromScrapes, restartsFromLogList, scrapeFromText, WINDOW_MS, type EtcdDiskSnapshot, type EtcdScrape, type LeaseLoss, type MemberSample, windowAnswers } from './etcd-disk-analysis.js';


const SCRIPT = [
  "curl -s -m 5 http://127.0.0.1:2381/metrics | grep -E '^etcd_(disk_wal_fsync_duration_seconds|disk_backend_commit_duration_seconds|server_leader_changes_seen_total)'",
  "echo '---SLOW'",
  "grep -h 'took too long' /var/log/pods/kube-system_etcd-*/etcd/*.log 2>/dev/null | tail -n 2000 | cut -d' ' -f1",
  "echo '---RESTARTS'",
  'for c in kube-controller-manager kube-scheduler; do for f in /var/log/pods/kube-system_${c}-*/${c}/*.log; do [ -e "$f" ] && echo "$c $f"; done; done',
  "echo '---LEASES'",
  // both components log it when they give up renewing their lease (then exit, and the kubelet restarts them)
  'for c in kube-controller-manager kube-scheduler; do grep -h -i \'leaderelection lost\' /var/log/pods/kube-system_${c}-*/${c}/*.log 2>/dev/null | tail -n 50 | cut -d" " -f1 | sed "s/^/$c /"; done',
  'true',
].join('\n');

interface NodeRead {
  scrape: EtcdScrape;
  tookTooLong: string[];
  restarts: Record<string, number>;
  leaseLost: LeaseLoss[];
}

export function parseNodeRead(stdout: string, at: number): NodeRead {
  const [metrics = '', rest = ''] = stdout.split('---SLOW\n');
  const [slow = '', rest2 = ''] = rest.split('---RESTARTS\n');
  const [restarts = '', leases = ''] = rest2.split('---LEASES\n');
  return {
    scrape: scrapeFromText(metrics, at),
    tookTooLong: slow.split('\n').map((l) => l.trim()).filter(Boolean),
    restarts: restartsFromLogList(restarts.split('\n')),
    leaseLost: leaseLossesFromLines(leases.split('\n')),
  };
}

export async function readNode(na: NodeAccess, node: string): Promise<NodeRead> {
  const res = await nodeSh(na, node, SCRIPT, 20_000);
  const at = Date.now();
  const read = parseNodeRead(res.stdout, at);
  if (!read.scrape.wal && !read.scrape.commit) throw new Error(`no etcd metrics on ${node} (curl 127.0.0.1:2381/metrics: exit ${res.exitCode} ${res.stderr.trim()})`);
  return read;
}

const history = new Map<string, EtcdScrape[]>();

/** sleeps ms; an abort ends it early (the caller's next read then fails on the aborted signal) */
const wait = (ms: number, signal?: AbortSignal) => sleep(ms, signal).catch(() => {});

/** When a process's first window is read again to see whether it already answers (ms after it starts). A healthy
 *  kind etcd fsyncs about twice a second (a busy one far more), so an early checkpoint usually answers; a one-shot
 *  scan (doctor) then takes a second of window or less instead of WINDOW_MS. */
const CHECKPOINTS_MS = [EARLY_WINDOW_MS, 1_000, 1_750, 2_500, 3_500];

/** A member sample over a window of at least windowMs. With `fresh`, two new scrapes windowMs apart (used by
 *  the runbook's verify, so nothing from before the remediation counts); otherwise the newest earlier scrape
 *  of this process that is old enough is reused as the start of the window, so polls need not wait, and a
 *  process's first window ends as soon as it answers (windowAnswers); the windows after it are whole. */
export async function sampleMember(na: NodeAccess, node: string, opts: { windowMs?: number; fresh?: boolean; signal?: AbortSignal } = {}): Promise<MemberSample> {
  const windowMs = opts.windowMs ?? WINDOW_MS;
  const key = `${na.cluster.provider}/${na.cluster.name}/${node}`;
  const now = Date.now();
  const past = opts.fresh ? [] : (history.get(key) ?? []).filter((s) => now - s.at <= MAX_WINDOW_MS);
  const until = (at: number) => wait(Math.max(0, at - Date.now()), opts.signal);
  const sample = (base: EtcdScrape, read: NodeRead) => {
    if (!opts.fresh) history.set(key, [...past, read.scrape].filter((s) => read.scrape.at - s.at <= MAX_WINDOW_MS));
    return memberFromScrapes(node, base, read.scrape, read.tookTooLong, read.restarts, read.leaseLost);
  };
  let base = [...past].reverse().find((s) => now - s.at >= windowMs);
  if (!base) {
    const newest = past[past.length - 1];
    if (newest) {
      await until(newest.at + windowMs);
      base = newest;
    } else {
      base = (await readNode(na, node)).scrape;
      past.push(base);
      for (const at of opts.fresh ? [] : CHECKPOINTS_MS.filter((c) => c < windowMs)) {
        await until(base.at + at);
        const m = sample(base, await readNode(na, node));
        if (windowAnswers(m)) return m;
      }
      await until(base.at + windowMs);
    }
  }
  return sample(base, await readNode(na, node));
}

/** API verbs whose duration is the client's wait (WATCH and CONNECT stay open by design) */
const waitedVerb = (l: Record<string, string>) => l.verb !== 'WATCH' && l.verb !== 'CONNECT';

/** The API server's own view over a window: its etcd request latency and its request latency. A GET that does
 *  not answer within timeoutMs is recorded as such; an API that slow is part of the picture. */
export async function apiWindow(ctx: KubeContext, timeoutMs = 10_000, ended?: Promise<unknown>): Promise<EtcdDiskSnapshot['api']> {
  const read = async () => {
    const samples = parseProm(await apiRawGet(ctx.kube.kc, '/metrics', timeoutMs), ['etcd_request_duration_seconds', 'apiserver_request_duration_seconds']);
    return { etcd: histogram(samples, 'etcd_request_duration_seconds'), requests: histogram(samples, 'apiserver_request_duration_seconds', waitedVerb) };
  };
  try {
    const a = await read();
    const t0 = Date.now();
    await Promise.race([wait(WINDOW_MS, ctx.signal), ...(ended ? [ended.catch(() => {})] : [])]);
    const b = await read();
    return {
      windowSeconds: (Date.now() - t0) / 1000,
      ...(b.etcd ? { hist: deltaHistogram(b.etcd, a.etcd) } : {}),
      ...(b.requests ? { requests: deltaHistogram(b.requests, a.requests) } : {}),
    };
  } catch (err) {
    return { windowSeconds: 0, error: (err as Error).message };
  }
}

export async function collectEtcdDisk(ctx: KubeContext): Promise<EtcdDiskSnapshot> {
  const snap: EtcdDiskSnapshot = { kind: 'etcd-disk', takenAt: new Date().toISOString(), members: [] };
  const na = nodeAccess(ctx);
  if (!na) {
    snap.api = await apiWindow(ctx);
    return snap;
  }
  let nodes: string[] = [];
  try {
    nodes = await controlPlaneNodes(na);
  } catch (err) {
    ctx.log?.(`etcd-disk-latency: cannot list nodes: ${(err as Error).message}`);
    return snap;
  }
  // the API's view is taken alongside (not after) the members' windows and ends with them, with a short timeout
  // so a slow API does not delay detection; it adds API request latency to the finding
  let membersRead: () => void = () => {};
  const api = apiWindow(ctx, 4_000, new Promise<void>((resolve) => (membersRead = resolve)));
  const members = await Promise.all(
    nodes.map((node) =>
      sampleMember(na, node, { signal: ctx.signal }).catch(
        (err: Error): MemberSample => ({ node, windowSeconds: 0, tookTooLong: [], restarts: {}, error: err.message }),
      ),
    ),
  );
  membersRead();
  snap.members = members;
  snap.api = await api;
  snap.takenAt = new Date().toISOString();
  return snap;
}
