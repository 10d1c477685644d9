// Reads etcd's restarts, logs, health and probe on each control-plane node (node exec; the API may be down),
// runs the probe's own command by hand inside the etcd container, and adds events when the API answers.
import type { KubeContext } from '../cluster/context.js';
import { controlPlaneNodes, nodeAccess, nodeSh, shQuote } from '../cluster/node-access.js';
import { ETCD_LOG_STARTS, parseContainerLogs, parseKubeletJournal, parseManifestProbe, parseProbeEvents, parseTerminated, probeEndpointMismatch, probeGist, type EtcdLivenessSnapshot, type EtcdNodeLiveness, type ProbeEvent } from './etcd-liveness-analysis.js';

const SCRIPT = [
  ETCD_LOG_STARTS,
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

async function runInEtcd(na: NonNullable<ReturnType<typeof nodeAccess>>, node: string, argv: string[], timeout: number): Promise<{ exitCode: number; output: string } | undefined> {
  const r = await nodeSh(na, node, byHandScript(argv, timeout), (timeout + 10) * 1000).catch(() => undefined);
  const out = r?.stdout ?? '';
  if (!r || out.includes('#norunning')) return undefined;
  return { exitCode: Number(/#exit (\d+)\s*$/.exec(out)?.[1] ?? r.exitCode), output: out.replace(/#exit \d+\s*$/, '').trim() };
}

/** The probe's command with its --endpoints replaced (etcdctl takes either --endpoints=X or --endpoints X). */
export function withEndpoint(argv: string[], endpoint: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i]!.startsWith('--endpoints=')) out.push(`--endpoints=${endpoint}`);
    else if (argv[i] === '--endpoints') out.push('--endpoints', endpoint), i++;
    else out.push(argv[i]!);
  }
  return out;
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
    const events = parseProbeEvents(list.items);
    out.kills.push(...events.kills);
    for (const ev of events.failures) out.failures.push({ ...ev, text: `Liveness probe failed: ${probeGist(ev.text.replace(/^Liveness probe failed:\s*/, ''))}` });
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
      // the kubelet's Events first: at its default verbosity its journal has no probe results, and a failure
      // seen only in an Event must still have the probe run by hand before the first kill
      const ev = await eventsFor(ctx, node);
      // events and journal lines describe the same probes; keep whichever source saw more
      if (ev.failures.reduce((s, e) => s + e.count, 0) > n.probeFailures.length) n.probeFailures = ev.failures;
      if (ev.kills.reduce((s, e) => s + e.count, 0) > n.kills.length) n.kills = ev.kills;
      const cmd = (n.probe as { exec?: { command?: string[] } } | undefined)?.exec?.command;
      // an exec probe is run by hand on every scan: it names a wrong probe before the kubelet's first failure
      // (which waits out initialDelaySeconds and a period), let alone its first kill. kubeadm's own probe is an
      // HTTP GET, so a default cluster pays nothing for this.
      if (cmd) {
        // capped so the scan stays short (etcdctl gives up after its own 5 s command timeout anyway)
        const timeout = Math.min(8, Number((n.probe as { timeoutSeconds?: number }).timeoutSeconds ?? 1));
        const byHand = await runInEtcd(na, node, cmd, timeout);
        if (byHand) n.byHand = { ...byHand, at: new Date().toISOString() };
        const endpoint = n.clientUrls[0];
        if (byHand && byHand.exitCode !== 0 && endpoint && probeEndpointMismatch(n.probe, n.clientUrls)) {
          const read = await runInEtcd(na, node, withEndpoint(cmd, endpoint), timeout);
          if (read) n.clientRead = { endpoint, exitCode: read.exitCode };
        }
      }
      snap.nodes.push(n);
    } catch (err) {
      snap.nodes.push({ node, containers: [], terminated: [], probeFailures: [], kills: [], clientUrls: [], error: (err as Error).message });
    }
  }
  snap.takenAt = new Date().toISOString();
  return snap;
}
