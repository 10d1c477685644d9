// Incident 004: the kubelet kills a healthy etcd because its liveness probe is wrong. Signatures: the etcd
// container's restarts climb, the kubelet reports "Liveness probe failed" / "failed liveness probe, will be
// restarted", etcd's own log ends with the terminated signal ("received signal; shutting down", older etcd:
// "received terminated signal, shutting down"), and etcd answers /health between kills.
//
// The API server dies with etcd, so collect() reads everything on the control-plane node: etcd's pod log
// files (N.log = attempt N), etcd's log, the kubelet journal, etcd's /health on 127.0.0.1:2381 and the static
// pod manifest's probe. Events are added when the API answers. analyze() is pure.
import { parseDocument } from 'yaml';
import type { KubeContext } from '../engine/context.js';
import { controlPlaneNodes, nodeAccess, nodeSh } from '../cluster/node-access.js';
import { resourceId, type Detector, type Finding } from './types.js';

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
  error?: string;
}

export interface EtcdLivenessSnapshot {
  kind: 'etcd-liveness';
  takenAt: string;
  nodes: EtcdNodeLiveness[];
}

// ---------- parsing (pure) ----------

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
  const latest = [...n.containers].sort((a, b) => (ts(b.startedAt) || 0) - (ts(a.startedAt) || 0))[0];
  const pod = latest?.pod;
  const restarts = pod ? Math.max(...n.containers.filter((c) => c.pod === pod).map((c) => c.attempt)) : 0;
  const currentStart = pod ? ts(n.containers.filter((c) => c.pod === pod).sort((a, b) => b.attempt - a.attempt)[0]?.startedAt) : NaN;
  // the probe still fails on the container running now (or the container died of it and waits in back-off)
  const failingNow =
    failures.some((f) => !f.at || !Number.isFinite(currentStart) || ts(f.at) >= currentStart) ||
    (n.byHand !== undefined && n.byHand.exitCode !== 0) ||
    (restarts > 0 && n.health === undefined && kills.length > 0);
  const killCount = kills.reduce((s, k) => s + k.count, 0);
  if (!failingNow || (restarts < 1 && killCount < 1)) return undefined;
  const shortOut = (t: string) => probeGist(t);
  const healthy = n.health !== undefined && /"health":\s*"true"/.test(n.health);
  const mismatch = probeEndpointMismatch(n.probe, n.clientUrls);
  const byHandFailed = n.byHand !== undefined && n.byHand.exitCode !== 0;
  const failCount = failures.reduce((s, f) => s + f.count, 0);
  const lastOutput = [...failures].reverse().find((f) => f.text.includes(':'))?.text;
  const verdict = healthy
    ? 'the probe is wrong, etcd is healthy'
    : 'etcd is down right now (killed, restarting); its health between kills decides whether the probe is wrong';
  return {
    detector: 'etcd-liveness-restarts',
    severity: 'critical',
    summary: `etcd on ${n.node} is being killed by its liveness probe: restarts ${restarts}, Liveness probe failed x${failCount + (byHandFailed ? 1 : 0)}, kubelet kills x${killCount}; ${verdict}${healthy ? ` (GET 127.0.0.1:2381/health: ${n.health!.trim()})` : ''}`,
    rootCause: `the kubelet restarts etcd because its liveness probe fails${healthy ? ' while etcd itself answers /health' : ''}: ${describeProbe(n.probe)}${mismatch ? `; ${mismatch}` : ''}`,
    evidence: [
      `etcd container restarts ${restarts} (pod log dir ${pod ?? '?'})`,
      ...(lastOutput ? [`kubelet: ${lastOutput} (x${failCount})`] : failCount ? [`kubelet: Liveness probe failed x${failCount}`] : []),
      ...(byHandFailed ? [`Liveness probe failed when run by hand in the etcd container (exit ${n.byHand!.exitCode}): ${shortOut(n.byHand!.output)}`] : []),
      ...(killCount ? [`kubelet: Container etcd failed liveness probe, will be restarted x${killCount}`] : []),
      ...(terminated.length ? [`etcd log: "${terminated[terminated.length - 1]!.text}" x${terminated.length}`] : []),
      healthy ? `etcd is healthy: GET http://127.0.0.1:2381/health -> ${n.health!.trim()}` : `etcd /health did not answer at ${takenAt}`,
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

// ---------- collection ----------

const SCRIPT = [
  'for f in /var/log/pods/kube-system_etcd-*/etcd/*.log; do [ -e "$f" ] && echo "$f $(head -c 64 "$f" | head -n 1 | cut -d" " -f1)"; done',
  "echo '---TERM'",
  "grep -h -E 'received (terminated )?signal|\"signal\":\"terminated\"' /var/log/pods/kube-system_etcd-*/etcd/*.log 2>/dev/null | tail -n 200 | cut -c1-400",
  "echo '---KUBELET'",
  "journalctl -u kubelet --since '-15min' --no-pager -o short-iso-precise 2>/dev/null | grep -F 'etcd' | grep -E 'probeType=\"Liveness\"|[Ll]iveness probe' | tail -n 300 | cut -c1-700",
  "echo '---HEALTH'",
  "curl -s -m 3 http://127.0.0.1:2381/health || echo '#down'",
  'echo',
  "echo '---MANIFEST'",
  'cat /etc/kubernetes/manifests/etcd.yaml',
].join('\n');

export function shQuote(a: string): string {
  return `'${a.replace(/'/g, `'\\''`)}'`;
}

/** Runs argv inside the running etcd container with containerd's ctr (no API server needed). */
export function byHandScript(argv: string[], timeoutSeconds: number): string {
  return [
    'cid=""',
    `for c in $(ctr -n k8s.io c ls -q 'labels."io.kubernetes.container.name"==etcd'); do`,
    '  if ctr -n k8s.io t ls | awk -v c="$c" \'$1==c && $3=="RUNNING" {f=1} END {exit !f}\'; then cid=$c; fi',
    'done',
    '[ -n "$cid" ] || { echo "#norunning"; exit 0; }',
    `out=$(timeout ${timeoutSeconds} ctr -n k8s.io task exec --exec-id faultline-probe-$$ "$cid" ${argv.map(shQuote).join(' ')} 2>&1); code=$?`,
    'printf "%s\\n" "$out" | tail -c 2000',
    'echo "#exit $code"',
  ].join('\n');
}

export function parseNodeOutput(node: string, stdout: string): EtcdNodeLiveness {
  const part = (name: string) => {
    const i = stdout.indexOf(`---${name}\n`);
    if (i < 0) return '';
    const rest = stdout.slice(i + name.length + 4);
    const j = rest.search(/^---[A-Z]+$/m);
    return j < 0 ? rest : rest.slice(0, j);
  };
  const head = stdout.slice(0, Math.max(0, stdout.indexOf('---TERM\n')));
  const lines = (s: string) => s.split('\n').filter((l) => l.trim());
  const journal = parseKubeletJournal(lines(part('KUBELET')));
  const health = part('HEALTH').trim();
  const { probe, clientUrls } = parseManifestProbe(part('MANIFEST'));
  return {
    node,
    containers: parseContainerLogs(lines(head)),
    terminated: parseTerminated(lines(part('TERM'))),
    probeFailures: journal.failures,
    kills: journal.kills,
    ...(health && !health.includes('#down') ? { health } : {}),
    ...(probe ? { probe } : {}),
    clientUrls,
  };
}

async function eventsFor(ctx: KubeContext, node: string): Promise<{ failures: ProbeEvent[]; kills: ProbeEvent[] }> {
  const out = { failures: [] as ProbeEvent[], kills: [] as ProbeEvent[] };
  let timer: NodeJS.Timeout | undefined;
  try {
    const list = await Promise.race([
      ctx.kube.core.listNamespacedEvent({ namespace: 'kube-system', fieldSelector: `involvedObject.name=etcd-${node}` }),
      new Promise<never>((_, rej) => {
        timer = setTimeout(() => rej(new Error('timeout')), 3_000);
      }),
    ]);
    for (const e of list.items) {
      const at = (e.lastTimestamp ?? e.eventTime ?? e.metadata?.creationTimestamp) as Date | string | undefined;
      const iso = at ? new Date(at).toISOString() : undefined;
      const ev = { ...(iso ? { at: iso } : {}), text: e.message ?? '', source: 'event' as const, count: e.count ?? 1 };
      if (/^Liveness probe failed/.test(ev.text)) out.failures.push({ ...ev, text: `Liveness probe failed: ${probeGist(ev.text.replace(/^Liveness probe failed:\s*/, ''))}` });
      else if (/failed liveness probe/.test(ev.text)) out.kills.push(ev);
    }
  } catch {
    // the API is down (etcd is): node-level evidence stands on its own
  } finally {
    clearTimeout(timer);
  }
  return out;
}

export async function collectEtcdLiveness(ctx: KubeContext): Promise<EtcdLivenessSnapshot> {
  const snap: EtcdLivenessSnapshot = { kind: 'etcd-liveness', takenAt: new Date().toISOString(), nodes: [] };
  const na = nodeAccess(ctx);
  if (!na) return snap;
  let nodes: string[];
  try {
    nodes = await controlPlaneNodes(na);
  } catch {
    return snap;
  }
  for (const node of nodes) {
    try {
      const res = await nodeSh(na, node, SCRIPT, 20_000);
      const n = parseNodeOutput(node, res.stdout);
      const cmd = (n.probe as { exec?: { command?: string[] } } | undefined)?.exec?.command;
      const restarted = n.containers.some((c) => c.attempt > 0) || n.terminated.length > 0;
      if (cmd && restarted) {
        // capped so the scan stays short (etcdctl gives up after its own 5 s command timeout anyway)
        const timeout = Math.min(8, Number((n.probe as { timeoutSeconds?: number }).timeoutSeconds ?? 1));
        const r = await nodeSh(na, node, byHandScript(cmd, timeout), (timeout + 10) * 1000).catch(() => undefined);
        const out = r?.stdout ?? '';
        if (r && !out.includes('#norunning')) {
          const code = Number(/#exit (\d+)\s*$/.exec(out)?.[1] ?? r.exitCode);
          n.byHand = { exitCode: code, output: out.replace(/#exit \d+\s*$/, '').trim(), at: new Date().toISOString() };
        }
      }
      const ev = await eventsFor(ctx, node);
      // events and journal lines describe the same probes; keep whichever source saw more
      if (ev.failures.reduce((s, e) => s + e.count, 0) > n.probeFailures.length) n.probeFailures = ev.failures;
      if (ev.kills.reduce((s, e) => s + e.count, 0) > n.kills.length) n.kills = ev.kills;
      snap.nodes.push(n);
    } catch (err) {
      snap.nodes.push({ node, containers: [], terminated: [], probeFailures: [], kills: [], clientUrls: [], error: (err as Error).message });
    }
  }
  snap.takenAt = new Date().toISOString();
  return snap;
}

export const etcdLivenessRestartsDetector: Detector<EtcdLivenessSnapshot> = {
  id: 'etcd-liveness-restarts',
  description: "etcd killed by the kubelet's liveness probe while etcd itself is healthy (node-level: works with the API down)",
  collect: collectEtcdLiveness,
  analyze: analyzeEtcdLiveness,
};
