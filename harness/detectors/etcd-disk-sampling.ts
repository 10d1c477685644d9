// Reads etcd's metrics and logs on each control-plane node (node exec) over a recent window, or without node
// access the API server's view of etcd request latency.
import type { KubeContext } from '../cluster/context.js';
import { apiRawGet } from '../cluster/api-raw.js';
import { controlPlaneNodes, nodeAccess, nodeSh, type NodeAccess } from '../cluster/node-access.js';
import { sleep } from '../core/poll.js';
import { deltaHistogram, histogram, parseProm } from './prom-text.js';
import { EARLY_WINDOW_MS, leaseLossesFromLines, MAX_WINDOW_MS, memberFromScrapes, restartsFromLogList, SCRAPED_METRICS, scrapeFromText, WINDOW_MS, type EtcdDiskSnapshot, type EtcdScrape, type LeaseLoss, type MemberSample, windowAnswers } from './etcd-disk-analysis.js';


const METRICS = `curl -s -m 5 http://127.0.0.1:2381/metrics | grep -E '^(${SCRAPED_METRICS.join('|')})'`;

const LOGS = [
  "echo '---SLOW'",
  "grep -h 'took too long' /var/log/pods/kube-system_etcd-*/etcd/*.log 2>/dev/null | tail -n 2000 | cut -d' ' -f1",
  "echo '---RESTARTS'",
  'for c in kube-controller-manager kube-scheduler; do for f in /var/log/pods/kube-system_${c}-*/${c}/*.log; do [ -e "$f" ] && echo "$c $f"; done; done',
  "echo '---LEASES'",
  // both components log it when they give up renewing their lease (then exit, and the kubelet restarts them)
  'for c in kube-controller-manager kube-scheduler; do grep -h -i \'leaderelection lost\' /var/log/pods/kube-system_${c}-*/${c}/*.log 2>/dev/null | tail -n 50 | cut -d" " -f1 | sed "s/^/$c /"; done',
  'true',
];

const SCRIPT = [METRICS, ...LOGS].join('\n');

/** A process's first window, in one node command: a scrape, then one every 250 ms until the window holds the
 *  syncs windowAnswers needs (two fsyncs and a commit, or three fsyncs) or lasts maxMs; then the logs. Prints
 *  "---A <ms>", the first scrape, "---B <ms>", the last one and the log sections (times from the node's clock,
 *  used only for the window's length). */
export function firstWindowScript(minMs: number, maxMs: number): string {
  return [
    `m() { ${METRICS}; }`,
    "n() { printf '%s\\n' \"$1\" | awk '/^etcd_disk_wal_fsync_duration_seconds_count/{w=$2} /^etcd_disk_backend_commit_duration_seconds_count/{k=$2} END{printf \"%d %d\\n\", w, k}'; }",
    'ms() { echo $(( $(date +%s%N) / 1000000 )); }',
    'a=$(m); t0=$(ms); set -- $(n "$a"); w0=$1; k0=$2; b=; t=$t0',
    // no metrics (etcd down): no window to wait for
    'while [ -n "$a" ]; do',
    '  sleep 0.25; b=$(m); t=$(ms); set -- $(n "$b"); w=$(( $1 - w0 )); k=$(( $2 - k0 )); el=$(( t - t0 ))',
    `  [ $el -ge ${maxMs} ] && break`,
    `  [ $el -ge ${minMs} ] && { [ $w -ge 3 ] || { [ $w -ge 2 ] && [ $k -ge 1 ]; }; } && break`,
    'done',
    'echo "---A $t0"', 'printf \'%s\\n\' "$a"', 'echo "---B $t"', 'printf \'%s\\n\' "$b"',
    ...LOGS,
  ].join('\n');
}

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

function checkedRead(node: string, res: { stdout: string; stderr: string; exitCode: number }, read: NodeRead): NodeRead {
  if (!read.scrape.wal && !read.scrape.commit) throw new Error(`no etcd metrics on ${node} (curl 127.0.0.1:2381/metrics: exit ${res.exitCode} ${res.stderr.trim()})`);
  return read;
}

export async function readNode(na: NodeAccess, node: string): Promise<NodeRead> {
  const res = await nodeSh(na, node, SCRIPT, 20_000);
  return checkedRead(node, res, parseNodeRead(res.stdout, Date.now()));
}

/** The first scrape and the last read of a first window (firstWindowScript's output); `at` is when it ended. */
export function parseFirstWindow(stdout: string, at: number): { first: EtcdScrape; last: NodeRead } | undefined {
  const a = /^---A (\d+)\n([\s\S]*?)^---B (\d+)\n([\s\S]*)$/m.exec(stdout);
  if (!a) return undefined;
  const length = Number(a[3]) - Number(a[1]);
  return { first: scrapeFromText(a[2]!, at - length), last: parseNodeRead(a[4]!, at) };
}

async function readFirstWindow(na: NodeAccess, node: string, windowMs: number): Promise<{ first: EtcdScrape; last: NodeRead }> {
  const res = await nodeSh(na, node, firstWindowScript(EARLY_WINDOW_MS, windowMs), 20_000 + windowMs);
  const read = parseFirstWindow(res.stdout, Date.now());
  if (!read) throw new Error(`no etcd metrics on ${node} (exit ${res.exitCode} ${res.stderr.trim()})`);
  checkedRead(node, res, { ...read.last, scrape: read.first });
  checkedRead(node, res, read.last);
  return read;
}

const history = new Map<string, EtcdScrape[]>();

/** sleeps ms; an abort ends it early (the caller's next read then fails on the aborted signal) */
const wait = (ms: number, signal?: AbortSignal) => sleep(ms, signal).catch(() => {});

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
    } else if (opts.fresh) {
      base = (await readNode(na, node)).scrape;
      await until(base.at + windowMs);
    } else {
      // the first window ends once it holds enough syncs to answer (a healthy kind etcd fsyncs about once or
      // twice a second, a busy one far more): a one-shot scan (doctor) then waits about a second, not windowMs
      const { first, last } = await readFirstWindow(na, node, windowMs);
      past.push(first);
      base = first;
      const m = sample(first, last);
      if (windowAnswers(m) || m.windowSeconds * 1000 >= windowMs) return m;
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
