// The backend of a validating webhook hangs: its server process is stopped (SIGSTOP, on its node) and answers
// nothing, while its configuration, with failurePolicy Fail, still sends the API server there. The API server's
// calls time out, the kubelet's readiness probe fails and takes the pod out of its Service, and from then every
// request the webhook's rules match (the deletion of a storage system's volume) is refused with "failed calling
// webhook". A process that is alive but answers nothing is what a deadlocked or wedged server looks like; a
// restart of the backend cures it, as it did for the storage system the scenario replays.
//
// The record holds each stopped process by node, container, host PID and start time, so revert (SIGCONT) never
// signals a process that merely reuses the PID, and the webhook configuration as it was, which revert puts back
// field for field (a runbook may have cut a rule block out of it).
import { AdmissionregistrationV1Api, type V1ValidatingWebhook } from '@kubernetes/client-node';
import { z } from 'zod';
import { apiErrorMessage, isNotFound, selectorQuery, serviceEndpoints } from '../cluster/kube.js';
import { nodeSh, requireNodeAccess, shQuote, type NodeAccess } from '../cluster/node-access.js';
import type { RunContext } from '../cluster/context.js';
import { waitUntil } from '../core/poll.js';
import type { Fault } from './types.js';

export const WebhookBackendHangParams = z
  .object({
    namespace: z.string().min(1),
    /** the backend's Deployment */
    deployment: z.string().min(1),
    /** its ValidatingWebhookConfiguration */
    config: z.string().min(1),
  })
  .strict();
export type WebhookBackendHangParams = z.infer<typeof WebhookBackendHangParams>;

export interface StoppedProcess {
  pod: string;
  node: string;
  containerId: string;
  pid: number;
  /** field 22 of /proc/PID/stat: with the PID, the process's identity */
  startTicks: string;
}

export interface WebhookBackendHangRecord {
  namespace: string;
  deployment: string;
  config: string;
  processes: StoppedProcess[];
  /** the configuration's webhooks as captured (JSON) */
  webhooks: string;
}

/** How long apply waits for the Service to lose its ready endpoints (the readiness probe: 3 failures × 2 s, plus
 *  the endpoints controller), and revert for the backend to be ready again. */
const UNREADY_WITHIN_MS = 60_000;
const READY_WITHIN_MS = 90_000;

/** "PID STARTTICKS" of a container's task, from containerd on its node (ctr is in every node image). */
export function taskScript(containerId: string): string {
  const id = shQuote(containerId);
  return `pid=$(ctr -n k8s.io task ls | awk -v id=${id} '$1 == id { print $2 }'); [ -n "$pid" ] || { echo "no task ${containerId}" >&2; exit 1; }; echo "$pid $(sed 's/^.*) //' /proc/$pid/stat | cut -d' ' -f20)"`;
}

export function parseTask(stdout: string): { pid: number; startTicks: string } | undefined {
  const m = /^(\d+) (\d+)$/.exec(stdout.trim());
  return m ? { pid: Number(m[1]), startTicks: m[2]! } : undefined;
}

/** Sends SIG to the process only if it is still the one recorded; prints "signalled", "gone" or "other". */
export function signalScript(p: StoppedProcess, sig: 'STOP' | 'CONT'): string {
  return `if [ -r /proc/${p.pid}/stat ] && [ "$(sed 's/^.*) //' /proc/${p.pid}/stat | cut -d' ' -f20)" = ${shQuote(p.startTicks)} ]; then kill -${sig} ${p.pid} && echo signalled; elif [ -e /proc/${p.pid} ]; then echo other; else echo gone; fi`;
}

async function backendProcesses(ctx: RunContext, na: NodeAccess, p: WebhookBackendHangParams): Promise<StoppedProcess[]> {
  const dep = await ctx.kube.apps.readNamespacedDeployment({ namespace: p.namespace, name: p.deployment });
  const sel = selectorQuery(dep.spec?.selector);
  if (!sel) throw new Error(`Deployment ${p.namespace}/${p.deployment} has no selector`);
  const pods = await ctx.kube.core.listNamespacedPod({ namespace: p.namespace, labelSelector: sel });
  const out: StoppedProcess[] = [];
  for (const pod of pods.items) {
    if (pod.status?.phase !== 'Running' || pod.metadata?.deletionTimestamp) continue;
    const node = pod.spec?.nodeName;
    const cid = pod.status?.containerStatuses?.[0]?.containerID?.replace(/^[a-z]+:\/\//, '');
    if (!node || !cid) continue;
    const res = await nodeSh(na, node, taskScript(cid));
    const task = res.exitCode === 0 ? parseTask(res.stdout) : undefined;
    if (!task) throw new Error(`pod ${p.namespace}/${pod.metadata?.name}: cannot find its process on ${node}: ${res.stderr.trim() || res.stdout.trim()}`);
    out.push({ pod: pod.metadata!.name!, node, containerId: cid, ...task });
  }
  if (out.length === 0) throw new Error(`Deployment ${p.namespace}/${p.deployment} has no running pod to stop`);
  return out;
}

function backendService(webhooks: V1ValidatingWebhook[], namespace: string): string | undefined {
  return webhooks.map((w) => w.clientConfig?.service).find((s) => s?.namespace === namespace)?.name;
}

async function waitEndpoints(ctx: RunContext, namespace: string, service: string, want: 'none' | 'some', withinMs: number): Promise<void> {
  await waitUntil(
    async () => {
      const n = await serviceEndpoints(ctx.kube.kc, namespace, service).then((e) => e.ready, () => -1);
      return want === 'none' ? n === 0 : n > 0;
    },
    { withinMs, intervalMs: 2_000, what: `Service ${namespace}/${service} ${want === 'none' ? 'still has ready endpoints' : 'has no ready endpoint'}`, ...(ctx.signal ? { signal: ctx.signal } : {}) },
  );
}

export const webhookBackendHang: Fault<WebhookBackendHangParams, WebhookBackendHangRecord> = {
  type: 'webhook-backend-hang',
  description: "stop (SIGSTOP) the server processes of a validating webhook's backend, so the API server's calls to it fail",
  paramsSchema: WebhookBackendHangParams,

  async plan(ctx, p) {
    const na = requireNodeAccess(ctx, 'the backend process is stopped on its node');
    const cfg = await ctx.kube.kc.makeApiClient(AdmissionregistrationV1Api).readValidatingWebhookConfiguration({ name: p.config });
    const webhooks = cfg.webhooks ?? [];
    if (!backendService(webhooks, p.namespace)) throw new Error(`ValidatingWebhookConfiguration ${p.config} calls no Service in ${p.namespace} (is its backend registered yet?)`);
    return { ...p, processes: await backendProcesses(ctx, na, p), webhooks: JSON.stringify(webhooks) };
  },

  async apply(ctx, _p, r) {
    const na = requireNodeAccess(ctx, 'the backend process is stopped on its node');
    for (const proc of r.processes) {
      const res = await nodeSh(na, proc.node, signalScript(proc, 'STOP'));
      if (res.stdout.trim() !== 'signalled') throw new Error(`pod ${r.namespace}/${proc.pod}: process ${proc.pid} on ${proc.node} not stopped (${res.stdout.trim() || res.stderr.trim()})`);
    }
    const service = backendService(JSON.parse(r.webhooks) as V1ValidatingWebhook[], r.namespace)!;
    // the fault is in once the API server has no ready endpoint to call: before that its calls time out instead
    await waitEndpoints(ctx, r.namespace, service, 'none', UNREADY_WITHIN_MS);
  },

  async revert(ctx, r) {
    const na = requireNodeAccess(ctx, 'the backend process is resumed on its node');
    for (const proc of r.processes) {
      const res = await nodeSh(na, proc.node, signalScript(proc, 'CONT'));
      const said = res.stdout.trim();
      // a runbook's restart replaced the pod: its stopped process went with it
      if (said !== 'signalled') ctx.log(`pod ${r.namespace}/${proc.pod}: process ${proc.pid} on ${proc.node} ${said === 'gone' ? 'is gone' : 'is another process now'}; nothing to resume`);
    }
    const api = ctx.kube.kc.makeApiClient(AdmissionregistrationV1Api);
    const want = JSON.parse(r.webhooks) as V1ValidatingWebhook[];
    let cfg;
    try {
      cfg = await api.readValidatingWebhookConfiguration({ name: r.config });
    } catch (err) {
      // gone with the victim's set-up (a recover after teardown): nothing left to put back
      if (isNotFound(err)) return ctx.log(`ValidatingWebhookConfiguration ${r.config} is gone; nothing to put back`);
      throw err;
    }
    if (JSON.stringify(cfg.webhooks ?? []) !== r.webhooks) {
      try {
        await api.replaceValidatingWebhookConfiguration({ name: r.config, body: { ...cfg, webhooks: want } });
      } catch (err) {
        throw new Error(`ValidatingWebhookConfiguration ${r.config}: cannot put its webhooks back: ${apiErrorMessage(err)}`);
      }
      const back = await api.readValidatingWebhookConfiguration({ name: r.config });
      if (JSON.stringify(back.webhooks ?? []) !== r.webhooks) throw new Error(`ValidatingWebhookConfiguration ${r.config}: its webhooks differ from the captured ones after the restore`);
    }
    try {
      await ctx.kube.apps.readNamespacedDeployment({ namespace: r.namespace, name: r.deployment });
    } catch (err) {
      if (isNotFound(err)) return ctx.log(`Deployment ${r.namespace}/${r.deployment} is gone; not waiting for its endpoints`);
      throw err;
    }
    await waitEndpoints(ctx, r.namespace, backendService(want, r.namespace)!, 'some', READY_WITHIN_MS);
  },

  describe(r) {
    return `backend of ValidatingWebhookConfiguration ${r.config} (${r.processes.map((p) => `${p.pod}: pid ${p.pid} on ${p.node}`).join(', ')}) resumed; its webhooks put back as captured`;
  },
};
