// etcdctl inside the cluster's own etcd static pod (kubeadm layout: client certs under
// /etc/kubernetes/pki/etcd), reached through the API's exec endpoint.
import type { KubeClients } from './kube.js';
import { execInPod } from './pod-exec.js';
import type { ExecResult } from './types.js';

const PKI = '/etc/kubernetes/pki/etcd';
const TLS_FLAGS = [
  '--endpoints=https://127.0.0.1:2379',
  `--cacert=${PKI}/ca.crt`,
  `--cert=${PKI}/server.crt`,
  `--key=${PKI}/server.key`,
];

/** Name of a Running kubeadm etcd pod, or an error that says why there is none. */
export async function etcdPod(kube: KubeClients): Promise<string> {
  const pods = await kube.core.listNamespacedPod({ namespace: 'kube-system', labelSelector: 'component=etcd' });
  const running = pods.items.find((p) => p.status?.phase === 'Running');
  if (!running?.metadata?.name) {
    throw new Error('no Running etcd pod (component=etcd) in kube-system: this needs a kubeadm cluster with stacked etcd');
  }
  return running.metadata.name;
}

export async function etcdctl(kube: KubeClients, args: string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<ExecResult> {
  const pod = await etcdPod(kube);
  return execInPod(kube.kc, { namespace: 'kube-system', pod, container: 'etcd' }, ['etcdctl', ...TLS_FLAGS, ...args], opts);
}

/** The etcd key under which kube-apiserver stores an object (kubeadm's default --etcd-prefix). */
export function storageKey(resource: string, namespace: string, name: string): string {
  return `/registry/${resource}/${namespace}/${name}`;
}
