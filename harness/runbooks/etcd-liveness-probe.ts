// Runbook for the NRE Labs outage: the kubelet kills a healthy etcd because the static pod's liveness probe is
// wrong. The incident removed the probe; this runbook puts back the probe kubeadm generates (httpGet /livez on
// the metrics port), keeping the rest of the manifest, and proves etcd stays up.
import { z } from 'zod';
import { secondsSchema } from '../core/durations.js';
import { controlPlaneNodes, nodeSh, type NodeAccess, requireNodeAccess } from '../cluster/node-access.js';
import { apiAnswers } from './verify-helpers.js';
import type { RunContext } from '../cluster/context.js';
import { sleep } from '../core/poll.js';
import { ETCD_LOG_STARTS, describeProbe, latestStart, parseContainerLogs, parseProbeEvents, probeEndpointMismatch } from '../detectors/etcd-liveness-analysis.js';
import type { Finding } from '../detectors/types.js';
import { ETCD_MANIFEST, livenessProbeOf, readManifest, withLivenessProbe, writeManifest } from '../faults/etcd-liveness-probe.js';
import { parseResource, type Diagnosis, type Runbook, type VerifyResult } from './types.js';

/** The liveness probe kubeadm (1.31+) writes for etcd: /livez on the metrics listener (127.0.0.1:2381). */
export const KUBEADM_ETCD_LIVENESS = {
  failureThreshold: 8,
  httpGet: { host: '127.0.0.1', path: '/livez', port: 'probe-port', scheme: 'HTTP' },
  initialDelaySeconds: 10,
  periodSeconds: 10,
  timeoutSeconds: 15,
};

// stableSeconds: the window's length; without it, probeWindowSeconds of the probe in the fixed manifest
export const VerifyParams = z.object({ namespace: z.string().min(1).optional(), stableSeconds: secondsSchema().optional() }).strict();

/** How long the probe in the manifest must run without failing: its first answer is in by initialDelaySeconds +
 *  timeoutSeconds (a failure then is a "Liveness probe failed" event), and a second run has had a period. */
export function probeWindowSeconds(probe: Record<string, unknown> | undefined): number {
  const n = (k: string, d: number) => (typeof probe?.[k] === 'number' ? (probe[k] as number) : d);
  // the kubelet's defaults: no initial delay, period 10 s, timeout 1 s
  return n('initialDelaySeconds', 0) + n('periodSeconds', 10) + n('timeoutSeconds', 1);
}

/** The kubelet's "Liveness probe failed" events for etcd on `node` at or after `sinceMs` (the events' times are
 *  the node's clock, like the container's start). */
export async function probeFailuresSince(ctx: RunContext, node: string, sinceMs: number): Promise<{ count: number; last?: string }> {
  const list = await ctx.kube.core.listNamespacedEvent({ namespace: 'kube-system', fieldSelector: `involvedObject.name=etcd-${node},reason=Unhealthy` });
  const recent = parseProbeEvents(list.items).failures.filter((f) => f.at !== undefined && Date.parse(f.at) >= sinceMs);
  return { count: recent.reduce((t, f) => t + f.count, 0), ...(recent.length ? { last: recent[recent.length - 1]!.text.slice(0, 160) } : {}) };
}

/** Is this probe one that checks etcd the way kubeadm does (httpGet on 2381 / the probe port)? */
export function isKubeadmLikeProbe(probe: Record<string, unknown> | undefined): boolean {
  const h = (probe as { httpGet?: { port?: unknown; path?: string } } | undefined)?.httpGet;
  return !!h && (h.port === 'probe-port' || h.port === 2381) && /^\/(livez|health)/.test(h.path ?? '');
}

function needNodes(ctx: RunContext): NodeAccess {
  return requireNodeAccess(ctx, `edit /etc/kubernetes/manifests/etcd.yaml on the control-plane node by hand`);
}


interface EtcdState {
  logs: string[];
  healthy: boolean;
  health: string;
  /** the manifest's last write, in s since the epoch (the node's clock, like the logs' timestamps) */
  manifestWritten?: number;
}

async function etcdState(na: NodeAccess, node: string): Promise<EtcdState> {
  const res = await nodeSh(na, node, `${ETCD_LOG_STARTS}\necho '---'\ncurl -s -m 3 http://127.0.0.1:2381/health || true\necho '---'\nstat -c %Y ${ETCD_MANIFEST} || true`);
  const [logs = '', health = '', written = ''] = res.stdout.split('---\n');
  const manifestWritten = Number(written.trim());
  return { logs: logs.split('\n').filter(Boolean).sort(), healthy: /"health":\s*"true"/.test(health), health: health.trim(), ...(written.trim() && Number.isFinite(manifestWritten) ? { manifestWritten } : {}) };
}

/** Whether etcd runs from the manifest as it is now: its newest container started after the manifest's last write
 *  (the kubelet replaces a static pod when its file changes), and it answers /health. */
export function runsFromManifest(st: EtcdState): boolean {
  const started = latestStart(parseContainerLogs(st.logs))?.startedAt;
  return st.healthy && !!started && (st.manifestWritten === undefined || Date.parse(started) / 1000 >= st.manifestWritten);
}

// the kubelet took 40-80 s to run etcd from a rewritten manifest on the 2-core VM; past this the stable window
// starts anyway and fails if the replacement lands in it
const REPLACEMENT_WAIT_MS = 150_000;
const REPLACEMENT_POLL_MS = 2_000;

/** Waits until etcd on `node` runs from its manifest (see runsFromManifest), at most REPLACEMENT_WAIT_MS; returns
 *  the last state read and when (host clock) it was first seen so. */
async function replaced(na: NodeAccess, node: string, signal: AbortSignal | undefined): Promise<{ st: EtcdState; since?: number }> {
  const until = Date.now() + REPLACEMENT_WAIT_MS;
  for (;;) {
    const st = await etcdState(na, node);
    if (runsFromManifest(st)) return { st, since: Date.now() };
    if (Date.now() >= until) return { st };
    await sleep(REPLACEMENT_POLL_MS, signal);
  }
}

export const etcdLivenessProbeRunbook: Runbook = {
  id: 'etcd-liveness-probe',
  title: "etcd killed by a wrong liveness probe",
  verifyParams: VerifyParams,

  async diagnose(ctx, finding: Finding): Promise<Diagnosis> {
    const na = needNodes(ctx);
    const fromFinding = parseResource(finding.resources[0] ?? '').name.replace(/^etcd-/, '');
    const nodes = await controlPlaneNodes(na);
    const node = nodes.includes(fromFinding) ? fromFinding : nodes[0]!;
    const manifest = (await readManifest(na, node)).toString('utf8');
    const probe = livenessProbeOf(manifest);
    const clientUrls = /--listen-client-urls=(\S+)/.exec(manifest)?.[1]?.split(',') ?? [];
    const mismatch = probeEndpointMismatch(probe, clientUrls);
    const st = await etcdState(na, node);
    const details = [
      `liveness probe in ${ETCD_MANIFEST} on ${node}: ${describeProbe(probe)}`,
      ...(mismatch ? [mismatch] : []),
      `etcd /health now: ${st.health || '(no answer: etcd is down right now)'}`,
      `etcd container logs: ${parseContainerLogs(st.logs).map((c) => `attempt ${c.attempt} from ${c.startedAt ?? '?'}`).join(', ')}`,
      `fix: restore the probe kubeadm generates: ${describeProbe(KUBEADM_ETCD_LIVENESS)}`,
    ];
    return {
      runbook: 'etcd-liveness-probe',
      summary: `the etcd liveness probe on ${node} fails while etcd is ${st.healthy ? 'healthy' : 'otherwise fine between kills'}: ${describeProbe(probe)}${mismatch ? ` (${mismatch})` : ''}`,
      details,
      data: { node, probeIsKubeadm: isKubeadmLikeProbe(probe) },
    };
  },

  async remediate(ctx, diagnosis) {
    const na = needNodes(ctx);
    const node = String(diagnosis.data.node);
    const current = await readManifest(na, node);
    const probe = livenessProbeOf(current.toString('utf8'));
    if (isKubeadmLikeProbe(probe)) return { mode: 'automatic', actions: [`the liveness probe on ${node} is already kubeadm's (${describeProbe(probe)})`] };
    const fixed = Buffer.from(withLivenessProbe(current.toString('utf8'), KUBEADM_ETCD_LIVENESS), 'utf8');
    await writeManifest(na, node, fixed);
    const action = `rewrote the liveness probe in ${ETCD_MANIFEST} on ${node} to kubeadm's: ${describeProbe(KUBEADM_ETCD_LIVENESS)} (was: ${describeProbe(probe)}); the kubelet restarts etcd once with it`;
    ctx.log(action);
    return { mode: 'automatic', actions: [action] };
  },

  async verify(ctx, raw): Promise<VerifyResult> {
    const p = VerifyParams.parse(raw);
    const na = needNodes(ctx);
    const details: string[] = [];
    let ok = true;
    // the window starts once etcd runs from the fixed manifest: a window that began before the kubelet replaced
    // etcd would see that one restart and have to be waited out again
    let healthySince = 0;
    for (const node of await controlPlaneNodes(na)) {
      const { st: before, since } = await replaced(na, node, ctx.signal);
      healthySince = Math.max(healthySince, since ?? Date.now());
      const startedAt = Date.parse(latestStart(parseContainerLogs(before.logs))?.startedAt ?? '') || Date.now();
      const probe = livenessProbeOf((await readManifest(na, node)).toString('utf8'));
      const window = p.stableSeconds ?? probeWindowSeconds(probe);
      await sleep(window * 1000, ctx.signal);
      const after = await etcdState(na, node);
      const stable = before.logs.join('\n') === after.logs.join('\n');
      const failed = await probeFailuresSince(ctx, node, startedAt);
      // not seeing the replacement does not fail verify (a write that left the bytes as they were restarts nothing):
      // the window does
      ok &&= stable && failed.count === 0 && before.healthy && after.healthy;
      details.push(
        `${node}: etcd started after the last write of ${ETCD_MANIFEST}: ${since ? 'yes' : `not within ${REPLACEMENT_WAIT_MS / 1000} s (or not answering /health)`}`,
        `${node}: no new etcd container in ${window} s: ${stable ? 'yes' : `no (${parseContainerLogs(after.logs).map((c) => `attempt ${c.attempt}`).join(', ')})`}`,
        `${node}: no liveness probe failure since etcd started: ${failed.count === 0 ? 'yes' : `no (x${failed.count}: ${failed.last})`}`,
        `${node}: etcd /health ${after.health || '(no answer)'}`,
        `${node}: liveness probe ${describeProbe(probe)}`,
      );
    }
    const api = await apiAnswers(ctx);
    ok &&= api.ok;
    details.push(api.detail);
    return { ok, details, ...(ok ? { healthySince } : {}) };
  },

  markdown() {
    return MARKDOWN;
  },
};

const MARKDOWN = `# Runbook: etcd killed by a wrong liveness probe

**Signature.** The etcd static pod's restart count climbs (the incident: 183, with kube-apiserver alongside);
the API server is reachable for a minute or two, then refuses connections again. On the control-plane node:
the kubelet reports \`Liveness probe failed\` and \`Container etcd failed liveness probe, will be restarted\`;
etcd's log shows a normal start ("serving client requests") and then \`received signal; shutting down\`
(signal terminated; older etcd: "received terminated signal, shutting down"): something external stops it.
Yet \`curl http://127.0.0.1:2381/health\` (or \`etcdctl endpoint health\`) is fine between kills.
The standard alert (KubePodCrashLooping) waits 15 minutes, and needs the API server, which is down half the time.

**Diagnose (on the node, the API may be down).** Read the probe in \`/etc/kubernetes/manifests/etcd.yaml\`.
Multiply \`failureThreshold\` by \`periodSeconds\`/\`timeoutSeconds\`: that is the kill period you observe.
Run the probe's command by hand exactly as written (endpoint, certificates, timeout) and compare with a command
you know works (\`--endpoints=https://127.0.0.1:2379\`). \`faultline doctor\` does this from node files alone.

**Remediate.** Put back the probe kubeadm generates (\`httpGet http://127.0.0.1:2381/livez\`, failureThreshold 8,
period 10 s, timeout 15 s) in the static pod manifest; keep the rest of the manifest. Write it atomically (a temp
file outside \`/etc/kubernetes/manifests\`, then rename: the kubelet reads every file in that directory).
The kubelet restarts etcd once with the new manifest. Do not restart the kubelet or rebuild the cluster (the
incident's rebuild brought the same probe back).

**Verify.** etcd runs from the fixed manifest (its newest container started after the file's last write), then
for a window of the probe's initial delay + period + timeout (35 s for kubeadm's) no new etcd container and no
"Liveness probe failed" event, \`/health\` true, and the API server answers.
`;
