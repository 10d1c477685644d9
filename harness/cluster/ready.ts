// A new cluster is ready for a workload when every node is Ready (a NotReady node still carries the not-ready
// taint, so pods applied then meet FailedScheduling), every component pod is Ready (components.ts: a node can turn
// Ready while its CNI pod is still Pending, and CoreDNS answers from one replica while the other starts), and
// CoreDNS answers its own readiness endpoint.
import type { V1Node } from '@kubernetes/client-node';
import { errorMessage } from '../core/errors.js';
import { sleep } from '../core/poll.js';
import { isComponentNamespace, notReadyLine, podReady } from './components.js';
import { connect } from './kube.js';
import type { ClusterRef } from './types.js';

export interface ReadyOptions {
  signal?: AbortSignal;
  timeoutMs?: number;
  pollMs?: number;
  onProgress?(msg: string): void;
}

function nodeReady(n: V1Node): boolean {
  return (n.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
}

/** What still keeps the cluster from being ready, or [] once it is. */
async function notReady(ref: ClusterRef): Promise<string[]> {
  const kube = connect(ref);
  const nodes = (await kube.core.listNode()).items;
  const waiting = nodes.filter((n) => !nodeReady(n)).map((n) => `node ${n.metadata?.name} not Ready`);
  if (nodes.length === 0) waiting.push('no node registered yet');
  // one list per component namespace per poll: CoreDNS's pods are read from kube-system's
  const namespaces = (await kube.core.listNamespace()).items.map((n) => n.metadata!.name!).filter(isComponentNamespace);
  const pods = (await Promise.all(namespaces.map((namespace) => kube.core.listNamespacedPod({ namespace })))).flatMap((l) => l.items);
  const dns = pods.filter((p) => p.metadata?.namespace === 'kube-system' && p.metadata.labels?.['k8s-app'] === 'kube-dns' && p.status?.phase === 'Running');
  let answering = false;
  for (const p of dns) {
    // the `ready` plugin of kubeadm's Corefile answers "OK" on :8181 once CoreDNS serves the cluster zone
    const res = await kube.core.connectGetNamespacedPodProxyWithPath({ name: `${p.metadata!.name}:8181`, namespace: 'kube-system', path: 'ready' }).catch(() => '');
    if (String(res).trim() === 'OK') answering = true;
  }
  if (!answering) waiting.push(dns.length ? 'CoreDNS not answering yet' : 'no CoreDNS pod running yet');
  waiting.push(...pods.filter((p) => !podReady(p)).map(notReadyLine));
  return waiting;
}

/** Waits until every node and component pod is Ready and CoreDNS answers; returns the seconds it took. */
export async function waitClusterReady(ref: ClusterRef, opts: ReadyOptions = {}): Promise<number> {
  const started = Date.now();
  const until = started + (opts.timeoutMs ?? 300_000);
  let last = '';
  for (;;) {
    let waiting: string[];
    try {
      waiting = await notReady(ref);
    } catch (err) {
      waiting = [`API server not answering yet (${errorMessage(err)})`];
    }
    if (waiting.length === 0) return Math.round((Date.now() - started) / 100) / 10;
    const line = waiting.join('; ');
    if (line !== last) opts.onProgress?.(`waiting for the cluster: ${line}`);
    last = line;
    if (Date.now() > until) throw new Error(`cluster ${ref.name} not ready after ${Math.round((opts.timeoutMs ?? 300_000) / 1000)}s: ${line}`);
    await sleep(opts.pollMs ?? 1_000, opts.signal);
  }
}
