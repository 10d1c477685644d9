// The NRE Labs outage's signatures from what the node shows: etcd's pod logs, the kubelet journal, the probe (pure).
import { parseDocument } from 'yaml';
import { resourceId, type Finding } from './types.js';

/** kills by the kubelet within this window count */
export const WINDOW_MS = 15 * 60_000;

export interface EtcdContainerLog {
  /** pod UID dir (a manifest change makes a new static pod) */
  pod: string;
  attempt: number;
  /** first CRI timestamp in the file: when that container started logging */
  startedAt?: string;
}

export interface ProbeEvent {
  at?: string;
  text: string;
  source: 'kubelet-journal' | 'event';
  count: number;
}

export interface EtcdNodeLiveness {
  node: string;
  containers: EtcdContainerLog[];
  /** CRI timestamps + message of etcd's "terminated signal" lines */
  terminated: Array<{ at?: string; text: string }>;
  probeFailures: ProbeEvent[];
  kills: ProbeEvent[];
  /** raw body of GET 127.0.0.1:2381/health, undefined if it did not answer */
  health?: string;
  /** etcd container's liveness probe as the manifest on disk has it */
  probe?: Record<string, unknown>;
  /** etcd's --listen-client-urls */
  clientUrls: string[];
  /** the probe's exec command, run by hand in the running etcd container (as the incident's author did) */
  byHand?: { exitCode: number; output: string; at: string };
  /** the same command against etcd's own first client URL, when the probe points elsewhere: does etcd serve reads? */
  clientRead?: { endpoint: string; exitCode: number };
  error?: string;
}

export interface EtcdLivenessSnapshot {
  kind: 'etcd-liveness';
  takenAt: string;
  nodes: EtcdNodeLiveness[];
}

// ---------- parsing (pure) ----------

/** Lists each etcd container log with its first CRI timestamp (parsed by parseContainerLogs). */
export const ETCD_LOG_STARTS = 'for f in /var/log/pods/kube-system_etcd-*/etcd/*.log; do [ -e "$f" ] && echo "$f $(head -c 64 "$f" | head -n 1 | cut -d" " -f1)"; done; true';

/** The etcd container the kubelet started last (undated logs left out). */
export function latestStart(starts: EtcdContainerLog[]): EtcdContainerLog | undefined {
  const dated = starts.filter((c) => c.startedAt && !Number.isNaN(Date.parse(c.startedAt)));
  return dated.sort((a, b) => Date.parse(b.startedAt!) - Date.parse(a.startedAt!))[0];
}

export function parseContainerLogs(lines: string[]): EtcdContainerLog[] {
  const out: EtcdContainerLog[] = [];
  for (const l of lines) {
    const m = /^\/var\/log\/pods\/([^/]+)\/etcd\/(\d+)\.log(?:\s+(\S+))?/.exec(l.trim());
    if (!m) continue;
    out.push({ pod: m[1]!, attempt: Number(m[2]), ...(m[3] ? { startedAt: m[3] } : {}) });
  }
  return out;
}

const TERM = /received (terminated )?signal|"signal":"terminated"/;

export function parseTerminated(lines: string[]): Array<{ at?: string; text: string }> {
  return lines
    .filter((l) => TERM.test(l))
    .map((l) => {
      const at = /^(\d{4}-\d\d-\d\dT\S+)/.exec(l)?.[1];
      const msg = /"msg":"([^"]*)"/.exec(l)?.[1] ?? l.replace(/^\S+ \S+ \S+ /, '');
      const sig = /"signal":"([^"]*)"/.exec(l)?.[1];
      return { ...(at ? { at } : {}), text: sig ? `${msg} (signal ${sig})` : msg };
    });
}

/** The API's events for one etcd pod, as the kubelet posted them: probe failures ("Liveness probe failed: ...")
 *  and kills ("... failed liveness probe, will be restarted"), each with its last time and count. */
export function parseProbeEvents(items: Array<{ message?: string; count?: number; lastTimestamp?: Date | string; eventTime?: Date | string; metadata?: { creationTimestamp?: Date | string } }>): { failures: ProbeEvent[]; kills: ProbeEvent[] } {
  const out = { failures: [] as ProbeEvent[], kills: [] as ProbeEvent[] };
  for (const e of items) {
    const at = e.lastTimestamp ?? e.eventTime ?? e.metadata?.creationTimestamp;
    const ev = { ...(at ? { at: new Date(at).toISOString() } : {}), text: e.message ?? '', source: 'event' as const, count: e.count ?? 1 };
    if (/^Liveness probe failed/.test(ev.text)) out.failures.push(ev);
    else if (/failed liveness probe/.test(ev.text)) out.kills.push(ev);
  }
  return out;
}

/** kubelet journal lines (journalctl -o short-iso-precise) about etcd's liveness probe. */
export function parseKubeletJournal(lines: string[]): { failures: ProbeEvent[]; kills: ProbeEvent[] } {
  const failures: ProbeEvent[] = [];
  const kills: ProbeEvent[] = [];
  for (const l of lines) {
    const at = /^(\d{4}-\d\d-\d\dT\S+)/.exec(l)?.[1];
    if (/failed liveness probe/i.test(l)) {
      kills.push({ ...(at ? { at } : {}), text: /Container etcd failed liveness probe[^"]*/.exec(l)?.[0] ?? 'Container etcd failed liveness probe, will be restarted', source: 'kubelet-journal', count: 1 });
    } else if (/probeType="Liveness"/.test(l) || /Liveness probe failed/.test(l)) {
      const output = /output="((?:[^"\\]|\\.)*)"/.exec(l)?.[1];
      failures.push({ ...(at ? { at } : {}), text: `Liveness probe failed${output ? `: ${probeGist(output.replace(/\\n/g, '\n'))}` : ''}`, source: 'kubelet-journal', count: 1 });
    }
  }
  return { failures, kills };
}

export function parseManifestProbe(manifest: string): { probe?: Record<string, unknown>; clientUrls: string[] } {
  try {
    const obj = parseDocument(manifest).toJS() as { spec?: { containers?: Array<{ name?: string; command?: string[]; livenessProbe?: Record<string, unknown> }> } };
    const c = obj.spec?.containers?.find((x) => x.name === 'etcd');
    const urls = (c?.command ?? []).find((a) => a.startsWith('--listen-client-urls='))?.split('=')[1]?.split(',') ?? [];
    return { ...(c?.livenessProbe ? { probe: c.livenessProbe } : {}), clientUrls: urls };
  } catch {
    return { clientUrls: [] };
  }
}

export function describeProbe(probe: Record<string, unknown> | undefined): string {
  if (!probe) return 'none';
  const p = probe as { exec?: { command?: string[] }; httpGet?: { host?: string; path?: string; port?: unknown; scheme?: string }; periodSeconds?: number; failureThreshold?: number; timeoutSeconds?: number };
  const how = p.exec?.command
    ? `exec ${p.exec.command.join(' ')}`
    : p.httpGet
      ? `httpGet ${(p.httpGet.scheme ?? 'HTTP').toLowerCase()}://${p.httpGet.host ?? '<pod IP>'}:${String(p.httpGet.port)}${p.httpGet.path ?? '/'}`
      : JSON.stringify(probe);
  return `${how} (period ${p.periodSeconds ?? 10}s, timeout ${p.timeoutSeconds ?? 1}s, failureThreshold ${p.failureThreshold ?? 3})`;
}

/** Where an exec etcdctl probe points, and whether etcd serves clients there. */
export function probeEndpointMismatch(probe: Record<string, unknown> | undefined, clientUrls: string[]): string | undefined {
  const cmd = (probe as { exec?: { command?: string[] } } | undefined)?.exec?.command;
  if (!cmd) return undefined;
  const ep = cmd.join(' ').match(/--endpoints[= ](\S+)/)?.[1];
  if (!ep) return undefined;
  const norm = (u: string) => u.replace(/\[|\]/g, '').replace(/\/$/, '');
  const wanted = ep.split(',').map(norm);
  const served = clientUrls.map(norm);
  const bad = wanted.filter((w) => !served.includes(w));
  return bad.length ? `the probe's etcdctl --endpoints ${bad.join(',')} is not one of etcd's client URLs (${clientUrls.join(', ') || 'unknown'})` : undefined;
}

// ---------- analysis (pure) ----------

/** The telling part of a probe's output (etcdctl prints JSON retry logs, then "Error: ..."). */
export function probeGist(output: string): string {
  const parts: string[] = [];
  const dial = /(dial tcp [^"\\]+|x509: [^"\\]+|tls: [^"\\]+|connection refused)/.exec(output)?.[1];
  const err = /Error: ([^\n"]+)/.exec(output)?.[1];
  if (err) parts.push(`Error: ${err.trim()}`);
  if (dial && !parts.some((p) => p.includes(dial))) parts.push(dial.trim());
  const text = parts.length ? parts.join(' (') + (parts.length > 1 ? ')' : '') : output.trim();
  return text.length > 300 ? `${text.slice(0, 300)}...` : text;
}

const ts = (s?: string) => (s ? new Date(s).getTime() : NaN);

export function analyzeNode(n: EtcdNodeLiveness, takenAt: string): Finding | undefined {
  const now = ts(takenAt);
  const recent = <T extends { at?: string }>(xs: T[]) => xs.filter((x) => !x.at || now - ts(x.at) <= WINDOW_MS);
  const failures = recent(n.probeFailures);
  const kills = recent(n.kills);
  const terminated = recent(n.terminated);
  // the current etcd pod: the newest pod dir; its highest attempt is its restart count
  const latest = latestStart(n.containers) ?? n.containers[0];
  const pod = latest?.pod;
  const restarts = pod ? Math.max(...n.containers.filter((c) => c.pod === pod).map((c) => c.attempt)) : 0;
  const currentStart = pod ? ts(n.containers.filter((c) => c.pod === pod).sort((a, b) => b.attempt - a.attempt)[0]?.startedAt) : NaN;
  // the probe still fails on the container running now (or the container died of it and waits in back-off)
  const failingNow =
    failures.some((f) => !f.at || !Number.isFinite(currentStart) || ts(f.at) >= currentStart) ||
    (n.byHand !== undefined && n.byHand.exitCode !== 0) ||
    (restarts > 0 && n.health === undefined && kills.length > 0);
  const killCount = kills.reduce((s, k) => s + k.count, 0);
  const shortOut = (t: string) => probeGist(t);
  const healthy = n.health !== undefined && /"health":\s*"true"/.test(n.health);
  const mismatch = probeEndpointMismatch(n.probe, n.clientUrls);
  const byHandFailed = n.byHand !== undefined && n.byHand.exitCode !== 0;
  const failCount = failures.reduce((s, f) => s + f.count, 0);
  const servesReads = n.clientRead?.exitCode === 0;
  const onCurrent = failures.filter((f) => !f.at || !Number.isFinite(currentStart) || ts(f.at) >= currentStart).reduce((s, f) => s + f.count, 0);
  // before the first kill: the probe fails when run by hand while etcd answers /health, and the same command
  // against etcd's own client URL is served (or the kubelet has failed the probe twice on this container): the
  // probe is wrong, and the kubelet will kill a healthy etcd once failureThreshold is reached. The by-hand run
  // alone is enough with the served read, so the cause is named before the kubelet's first failure.
  const beforeKill = restarts < 1 && killCount < 1;
  const earlyProof = healthy && byHandFailed && (servesReads || onCurrent >= 2);
  if (!failingNow || (beforeKill && !earlyProof)) return undefined;
  const threshold = (n.probe as { failureThreshold?: number } | undefined)?.failureThreshold ?? 3;
  const lastOutput = [...failures].reverse().find((f) => f.text.includes(':'))?.text;
  const verdict = healthy
    ? 'the probe is wrong, etcd is healthy'
    : 'etcd is down right now (killed, restarting); its health between kills decides whether the probe is wrong';
  const state = beforeKill
    ? onCurrent
      ? `is about to be killed by its liveness probe: Liveness probe failed x${onCurrent} on the running container (the kubelet kills it at ${threshold}), and x1 more by hand`
      : `is about to be killed by its liveness probe: the probe fails when run by hand in the running container (the kubelet kills it after ${threshold} failures)`
    : `is being killed by its liveness probe: restarts ${restarts}, Liveness probe failed x${failCount + (byHandFailed ? 1 : 0)}, kubelet kills x${killCount}`;
  return {
    detector: 'etcd-liveness-restarts',
    severity: 'critical',
    summary: `etcd on ${n.node} ${state}; ${verdict}${healthy ? ` (GET 127.0.0.1:2381/health: ${n.health!.trim()})` : ''}`,
    rootCause: `the kubelet restarts etcd because its liveness probe fails${healthy ? ' while etcd itself answers /health' : ''}: ${describeProbe(n.probe)}${mismatch ? `; ${mismatch}` : ''}`,
    evidence: [
      `etcd container restarts ${restarts} (pod log dir ${pod ?? '?'})`,
      ...(lastOutput ? [`kubelet: ${lastOutput} (x${failCount})`] : failCount ? [`kubelet: Liveness probe failed x${failCount}`] : []),
      ...(byHandFailed ? [`Liveness probe failed when run by hand in the etcd container (exit ${n.byHand!.exitCode}): ${shortOut(n.byHand!.output)}`] : []),
      ...(killCount ? [`kubelet: Container etcd failed liveness probe, will be restarted x${killCount}`] : []),
      ...(terminated.length ? [`etcd log: "${terminated[terminated.length - 1]!.text}" x${terminated.length}`] : []),
      healthy ? `etcd is healthy: GET http://127.0.0.1:2381/health -> ${n.health!.trim()}` : `etcd /health did not answer at ${takenAt}`,
      ...(n.clientRead ? [`the probe's command against etcd's client URL ${n.clientRead.endpoint}: ${servesReads ? 'the read succeeds (etcd serves reads)' : `exit ${n.clientRead.exitCode}`}`] : []),
      `liveness probe in ${'/etc/kubernetes/manifests/etcd.yaml'}: ${describeProbe(n.probe)}`,
      ...(mismatch ? [mismatch] : []),
    ],
    runbook: 'etcd-liveness-probe',
    resources: [resourceId('kube-system', 'Pod', `etcd-${n.node}`)],
  };
}

export function analyzeEtcdLiveness(snapshot: EtcdLivenessSnapshot): Finding[] {
  if (snapshot?.kind !== 'etcd-liveness') return [];
  return snapshot.nodes.flatMap((n) => {
    const f = analyzeNode(n, snapshot.takenAt);
    return f ? [f] : [];
  });
}
