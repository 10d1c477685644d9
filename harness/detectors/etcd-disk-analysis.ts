// The signatures of etcd on a slow disk, computed from etcd's own metric histograms and log timestamps (pure).
import { counter, countAbove, deltaHistogram, fmtSeconds, histogram, parseProm, quantile, type Histogram } from './prom-text.js';
import { resourceId, type Finding } from './types.js';

export const WAL_FSYNC_P99_MAX = 0.1;
export const COMMIT_P99_MAX = 0.25;
/** API server's view (includes network and apply): p99 of etcd requests */
export const API_ETCD_P99_MAX = 0.5;
/** a single slow fsync on a busy laptop is not a slow disk: at least this many observations above the threshold */
export const MIN_SLOW = 3;
export const WINDOW_MS = 5_000;
/** an earlier scrape older than this is not reused: the window would reach back before a recovery (or a fault) */
export const MAX_WINDOW_MS = 15_000;
/** log warnings counted over this window */
export const LOG_WINDOW_MS = 5 * 60_000;

export const WAL = 'etcd_disk_wal_fsync_duration_seconds';
export const COMMIT = 'etcd_disk_backend_commit_duration_seconds';
export const LEADER_CHANGES = 'etcd_server_leader_changes_seen_total';
// raft's view of a member: leader or not, and how far its log is committed and applied (the raft index)
const IS_LEADER = 'etcd_server_is_leader';
const COMMITTED = 'etcd_server_proposals_committed_total';
const APPLIED = 'etcd_server_proposals_applied_total';

/** every metric scrapeFromText reads: the node script keeps only these lines of etcd's /metrics */
export const SCRAPED_METRICS = [WAL, COMMIT, LEADER_CHANGES, IS_LEADER, COMMITTED, APPLIED];

export interface RaftState {
  isLeader: boolean;
  committed: number;
  applied: number;
}

export interface EtcdScrape {
  at: number;
  wal?: Histogram;
  commit?: Histogram;
  leaderChanges?: number;
  raft?: RaftState;
}

export interface MemberSample {
  node: string;
  /** seconds between the two scrapes */
  windowSeconds: number;
  /** latencies observed in the window only */
  wal?: Histogram;
  commit?: Histogram;
  leaderChanges?: number;
  leaderChangesInWindow?: number;
  /** at the later scrape */
  raft?: RaftState;
  /** CRI timestamps of etcd's "took too long" warnings (last lines of its pod logs) */
  tookTooLong: string[];
  /** restart count per leader-elected component, from the log files kubelet keeps (N.log = attempt N) */
  restarts: Record<string, number>;
  /** "leaderelection lost" lines of leader-elected components (CRI timestamps) */
  leaseLost?: LeaseLoss[];
  error?: string;
}

export interface EtcdDiskSnapshot {
  kind: 'etcd-disk';
  takenAt: string;
  members: MemberSample[];
  /** the API server's view in a window: its etcd request latencies (the fallback without node access) and its
   *  own request latencies (WATCH and CONNECT left out) */
  api?: { windowSeconds: number; hist?: Histogram; requests?: Histogram; error?: string };
}

// ---------- parsing (pure) ----------

export function scrapeFromText(text: string, at: number): EtcdScrape {
  const s = parseProm(text);
  const [isLeader, committed, applied] = [counter(s, IS_LEADER), counter(s, COMMITTED), counter(s, APPLIED)];
  const raft = isLeader !== undefined && committed !== undefined && applied !== undefined ? { raft: { isLeader: isLeader === 1, committed, applied } } : {};
  return { at, wal: histogram(s, WAL), commit: histogram(s, COMMIT), leaderChanges: counter(s, LEADER_CHANGES), ...raft };
}

/** "N.log" files of a container's pod log dir: the highest N is its restart count. */
export function restartsFromLogList(lines: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const l of lines) {
    const m = /^(\S+)\s+\S*\/(\d+)\.log$/.exec(l.trim());
    if (!m) continue;
    out[m[1]!] = Math.max(out[m[1]!] ?? 0, Number(m[2]));
  }
  return out;
}

export interface LeaseLoss {
  component: string;
  at: string;
}

/** "<component> <CRI timestamp>" lines */
export function leaseLossesFromLines(lines: string[]): LeaseLoss[] {
  return lines.map((l) => l.trim().split(/\s+/)).filter((f) => f.length === 2).map(([component, at]) => ({ component: component!, at: at! }));
}

export function memberFromScrapes(node: string, earlier: EtcdScrape | undefined, later: EtcdScrape, tookTooLong: string[], restarts: Record<string, number>, leaseLost: LeaseLoss[] = []): MemberSample {
  return {
    node,
    windowSeconds: earlier ? (later.at - earlier.at) / 1000 : 0,
    ...(later.wal ? { wal: deltaHistogram(later.wal, earlier?.wal) } : {}),
    ...(later.commit ? { commit: deltaHistogram(later.commit, earlier?.commit) } : {}),
    ...(later.leaderChanges !== undefined ? { leaderChanges: later.leaderChanges } : {}),
    ...(later.leaderChanges !== undefined && earlier?.leaderChanges !== undefined
      ? { leaderChangesInWindow: Math.max(0, later.leaderChanges - earlier.leaderChanges) }
      : {}),
    ...(later.raft ? { raft: later.raft } : {}),
    tookTooLong,
    restarts,
    ...(leaseLost.length ? { leaseLost } : {}),
  };
}

// ---------- analysis (pure) ----------

export interface MemberLatency {
  node: string;
  walP99?: number;
  commitP99?: number;
  walSlow: number;
  commitSlow: number;
  samples: number;
  slow: boolean;
}

/** A disk so slow that fewer than MIN_SLOW syncs finish in the window: every one above the threshold and the
 *  mean at least STALLED_MEAN. (One slow sync on a busy laptop takes far less than a second.) */
export const STALLED_MEAN = 1;
function stalled(h: Histogram | undefined, max: number): boolean {
  return !!h && h.count > 0 && h.count < MIN_SLOW && countAbove(h, max) === h.count && h.sum / h.count >= STALLED_MEAN;
}

export function memberLatency(m: MemberSample): MemberLatency {
  const walP99 = m.wal ? quantile(0.99, m.wal) : undefined;
  const commitP99 = m.commit ? quantile(0.99, m.commit) : undefined;
  const walSlow = m.wal ? countAbove(m.wal, WAL_FSYNC_P99_MAX) : 0;
  const commitSlow = m.commit ? countAbove(m.commit, COMMIT_P99_MAX) : 0;
  const slow =
    ((walP99 ?? 0) > WAL_FSYNC_P99_MAX && walSlow >= MIN_SLOW) ||
    ((commitP99 ?? 0) > COMMIT_P99_MAX && commitSlow >= MIN_SLOW) ||
    stalled(m.wal, WAL_FSYNC_P99_MAX) ||
    stalled(m.commit, COMMIT_P99_MAX);
  return { node: m.node, walP99, commitP99, walSlow, commitSlow, samples: m.wal?.count ?? 0, slow };
}

/** A first window may answer before WINDOW_MS, no sooner than this; what makes it an answer is the syncs it
 *  holds (windowAnswers), not its length */
export const EARLY_WINDOW_MS = 500;

/** Whether a window already answers: slow by the rule above, or healthy with at least two fsyncs and one commit,
 *  none above its threshold. Anything else (no syncs yet, one slow sync) waits for the whole window. */
export function windowAnswers(m: MemberSample): boolean {
  if (m.error || m.windowSeconds * 1000 < EARLY_WINDOW_MS) return false;
  const l = memberLatency(m);
  if (l.slow) return true;
  return (m.wal?.count ?? 0) >= 2 && (m.commit?.count ?? 0) >= 1 && l.walSlow === 0 && l.commitSlow === 0;
}

export function recentCount(timestamps: string[], takenAt: string, windowMs = LOG_WINDOW_MS): number {
  const now = new Date(takenAt).getTime();
  return timestamps.filter((t) => {
    const ts = new Date(t).getTime();
    return Number.isFinite(ts) && now - ts <= windowMs && ts - now < 60_000;
  }).length;
}

export function describeMember(m: MemberSample, takenAt: string): string {
  const l = memberLatency(m);
  const restarts = Object.entries(m.restarts)
    .map(([c, n]) => `${c} restarts ${n}`)
    .join(', ');
  return [
    `etcd member ${m.node}: WAL fsync p99 ${fmtSeconds(l.walP99)} (normal < 10 ms), backend commit p99 ${fmtSeconds(l.commitP99)} (normal < 25 ms) over the last ${m.windowSeconds.toFixed(0)} s`,
    `'apply request took too long' x${recentCount(m.tookTooLong, takenAt)} (last ${LOG_WINDOW_MS / 60_000} min)`,
    `leader changes ${m.leaderChanges ?? '?'}`,
    ...(restarts ? [restarts] : []),
  ].join('; ');
}

/** leader-elected components that gave up their lease recently */
export function leaseEvidence(m: MemberSample, takenAt: string): string[] {
  const by = new Map<string, string[]>();
  for (const l of m.leaseLost ?? []) by.set(l.component, [...(by.get(l.component) ?? []), l.at]);
  return [...by].flatMap(([c, ats]) => {
    const n = recentCount(ats, takenAt);
    return n > 0 ? [`${c} log: 'leaderelection lost' x${n} in the last ${LOG_WINDOW_MS / 60_000} min (lease not renewed in time)`] : [];
  });
}

/** what the API server's clients felt in the same window */
export function apiEvidence(api: EtcdDiskSnapshot['api']): string[] {
  if (!api) return [];
  if (api.error) return [`API server /metrics: ${api.error}`];
  const out: string[] = [];
  if (api.requests?.count) out.push(`API request p99 ${fmtSeconds(quantile(0.99, api.requests))} (${api.requests.count} requests, WATCH/CONNECT excluded, ${api.windowSeconds.toFixed(0)} s)`);
  if (api.hist?.count) out.push(`API server's etcd request p99 ${fmtSeconds(quantile(0.99, api.hist))} (${api.hist.count} requests)`);
  return out;
}

/** Each member's raft role and index, and how far its applied index is behind the furthest-committed member (one
 *  line). The members are scraped a moment apart, so a small gap is the scrapes', not the member's. */
function raftEvidence(members: MemberSample[]): string[] {
  const known = members.filter((m) => m.raft);
  if (known.length < 2) return [];
  const top = Math.max(...known.map((m) => m.raft!.committed));
  const line = known.map((m) => {
    const r = m.raft!;
    const behind = top - r.applied;
    return `${m.node} ${r.isLeader ? 'leader' : 'follower'} committed ${r.committed} applied ${r.applied}${behind > 0 ? ` (${behind} behind)` : ''}`;
  });
  return [`raft index per member (${COMMITTED}, ${APPLIED}): ${line.join(', ')}`];
}

export function analyzeEtcdDisk(snapshot: EtcdDiskSnapshot): Finding[] {
  if (snapshot?.kind !== 'etcd-disk') return [];
  const findings: Finding[] = [];
  const lat = snapshot.members.map(memberLatency);
  for (const [i, m] of snapshot.members.entries()) {
    const l = lat[i]!;
    if (!l.slow) continue;
    const others = lat.filter((o) => o.node !== m.node && o.samples > 0);
    const compare = others.length
      ? [`other members: ${others.map((o) => `${o.node} commit p99 ${fmtSeconds(o.commitP99)} (${o.slow ? 'slow' : 'fast'})`).join(', ')}`]
      : [];
    findings.push({
      detector: 'etcd-disk-latency',
      severity: 'critical',
      summary: describeMember(m, snapshot.takenAt),
      rootCause: `etcd member ${m.node} waits on its disk (data dir /var/lib/etcd): WAL fsync p99 ${fmtSeconds(l.walP99)} > ${fmtSeconds(WAL_FSYNC_P99_MAX)} or backend commit p99 ${fmtSeconds(l.commitP99)} > ${fmtSeconds(COMMIT_P99_MAX)}`,
      evidence: [
        `${WAL} p99 ${fmtSeconds(l.walP99)} (${l.walSlow} of ${m.wal?.count ?? 0} fsyncs above ${fmtSeconds(WAL_FSYNC_P99_MAX)} in ${m.windowSeconds.toFixed(0)} s)`,
        `${COMMIT} p99 ${fmtSeconds(l.commitP99)} (${l.commitSlow} of ${m.commit?.count ?? 0} commits above ${fmtSeconds(COMMIT_P99_MAX)})`,
        `etcd log: 'apply request took too long' x${recentCount(m.tookTooLong, snapshot.takenAt)} in the last ${LOG_WINDOW_MS / 60_000} min`,
        `${LEADER_CHANGES} ${m.leaderChanges ?? '?'}${m.leaderChangesInWindow ? ` (+${m.leaderChangesInWindow} in the window)` : ''}`,
        ...raftEvidence(snapshot.members),
        ...Object.entries(m.restarts).map(([c, n]) => `${c} restarts ${n}`),
        ...leaseEvidence(m, snapshot.takenAt),
        ...apiEvidence(snapshot.api),
        ...compare,
      ],
      runbook: 'etcd-slow-disk',
      resources: [resourceId('kube-system', 'Pod', `etcd-${m.node}`)],
    });
  }
  const api = snapshot.api;
  // the API's view stands on its own only where no member could be read (no node access)
  if (api?.hist && !lat.some((l) => l.samples > 0)) {
    const p99 = quantile(0.99, api.hist);
    const slowN = countAbove(api.hist, API_ETCD_P99_MAX);
    if ((p99 ?? 0) > API_ETCD_P99_MAX && slowN >= MIN_SLOW) {
      findings.push({
        detector: 'etcd-disk-latency',
        severity: 'critical',
        summary: `etcd is slow as the API server sees it: etcd_request_duration_seconds p99 ${fmtSeconds(p99)} over the last ${api.windowSeconds.toFixed(0)} s (no node access to read etcd's own disk metrics)`,
        rootCause: `etcd requests from kube-apiserver take ${fmtSeconds(p99)} at p99 (> ${fmtSeconds(API_ETCD_P99_MAX)}); check etcd's WAL fsync and backend commit latency per member`,
        evidence: [`etcd_request_duration_seconds p99 ${fmtSeconds(p99)} (${slowN} of ${api.hist.count} requests above ${fmtSeconds(API_ETCD_P99_MAX)})`],
        runbook: 'etcd-slow-disk',
        resources: [resourceId('kube-system', 'Pod', 'etcd')],
      });
    }
  }
  return findings;
}
