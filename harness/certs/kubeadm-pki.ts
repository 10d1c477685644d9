// What kubeadm puts in /etc/kubernetes and who uses it: the certificate files and kubeconfigs of a kubeadm
// control plane, the CA each must chain to, the component that presents it (and to whom), the static pod or
// service that holds it, and the name `kubeadm certs renew` knows it by.

export const PKI_DIR = '/etc/kubernetes/pki';
export const KUBECONFIG_DIR = '/etc/kubernetes';

export type CaName = 'ca' | 'etcd-ca' | 'front-proxy-ca';
export type Holder = 'kube-apiserver' | 'etcd' | 'kube-controller-manager' | 'kube-scheduler' | 'kubelet' | 'kubectl';

export const CA_FILES: Record<CaName, string> = {
  ca: `${PKI_DIR}/ca.crt`,
  'etcd-ca': `${PKI_DIR}/etcd/ca.crt`,
  'front-proxy-ca': `${PKI_DIR}/front-proxy-ca.crt`,
};

export interface KubeadmCert {
  /** the name `kubeadm certs renew` and `check-expiration` use */
  renewName?: string;
  /** certificate path, or the kubeconfig that embeds (or points at) the client certificate */
  path: string;
  kind: 'cert' | 'kubeconfig' | 'ca';
  ca: CaName;
  /** who presents it, to whom: "kube-apiserver -> etcd (client)" */
  role: string;
  /** static pod (or the kubelet service) that reads it and must restart to use a new one */
  holder: Holder;
  /** the component on the other end of the handshake, whose log tells when it rejects the certificate */
  peer?: Holder;
  usage: 'server' | 'client' | 'server+client' | 'ca';
}

export const KUBEADM_CERTS: KubeadmCert[] = [
  { path: `${PKI_DIR}/ca.crt`, kind: 'ca', ca: 'ca', role: 'cluster CA (API server clients, kubelets)', holder: 'kube-apiserver', usage: 'ca' },
  { path: `${PKI_DIR}/etcd/ca.crt`, kind: 'ca', ca: 'etcd-ca', role: 'etcd CA', holder: 'etcd', usage: 'ca' },
  { path: `${PKI_DIR}/front-proxy-ca.crt`, kind: 'ca', ca: 'front-proxy-ca', role: 'front-proxy CA (aggregated APIs)', holder: 'kube-apiserver', usage: 'ca' },
  { renewName: 'apiserver', path: `${PKI_DIR}/apiserver.crt`, kind: 'cert', ca: 'ca', role: 'kube-apiserver serving certificate (clients -> kube-apiserver :6443)', holder: 'kube-apiserver', peer: 'kube-apiserver', usage: 'server' },
  { renewName: 'apiserver-kubelet-client', path: `${PKI_DIR}/apiserver-kubelet-client.crt`, kind: 'cert', ca: 'ca', role: 'kube-apiserver -> kubelet :10250 client certificate (logs, exec, port-forward)', holder: 'kube-apiserver', peer: 'kubelet', usage: 'client' },
  { renewName: 'apiserver-etcd-client', path: `${PKI_DIR}/apiserver-etcd-client.crt`, kind: 'cert', ca: 'etcd-ca', role: 'kube-apiserver -> etcd :2379 client certificate', holder: 'kube-apiserver', peer: 'etcd', usage: 'client' },
  { renewName: 'front-proxy-client', path: `${PKI_DIR}/front-proxy-client.crt`, kind: 'cert', ca: 'front-proxy-ca', role: 'kube-apiserver -> aggregated API servers client certificate', holder: 'kube-apiserver', usage: 'client' },
  { renewName: 'etcd-server', path: `${PKI_DIR}/etcd/server.crt`, kind: 'cert', ca: 'etcd-ca', role: 'etcd serving certificate (kube-apiserver -> etcd :2379)', holder: 'etcd', peer: 'kube-apiserver', usage: 'server+client' },
  { renewName: 'etcd-peer', path: `${PKI_DIR}/etcd/peer.crt`, kind: 'cert', ca: 'etcd-ca', role: 'etcd peer certificate (etcd <-> etcd :2380)', holder: 'etcd', peer: 'etcd', usage: 'server+client' },
  { renewName: 'etcd-healthcheck-client', path: `${PKI_DIR}/etcd/healthcheck-client.crt`, kind: 'cert', ca: 'etcd-ca', role: 'etcd health check client certificate', holder: 'etcd', peer: 'etcd', usage: 'client' },
  { renewName: 'admin.conf', path: `${KUBECONFIG_DIR}/admin.conf`, kind: 'kubeconfig', ca: 'ca', peer: 'kube-apiserver', role: 'admin kubeconfig client certificate (kubectl -> kube-apiserver)', holder: 'kubectl', usage: 'client' },
  { renewName: 'super-admin.conf', path: `${KUBECONFIG_DIR}/super-admin.conf`, kind: 'kubeconfig', ca: 'ca', peer: 'kube-apiserver', role: 'super-admin kubeconfig client certificate (kubectl -> kube-apiserver)', holder: 'kubectl', usage: 'client' },
  { renewName: 'controller-manager.conf', path: `${KUBECONFIG_DIR}/controller-manager.conf`, kind: 'kubeconfig', ca: 'ca', peer: 'kube-apiserver', role: 'kube-controller-manager -> kube-apiserver client certificate', holder: 'kube-controller-manager', usage: 'client' },
  { renewName: 'scheduler.conf', path: `${KUBECONFIG_DIR}/scheduler.conf`, kind: 'kubeconfig', ca: 'ca', peer: 'kube-apiserver', role: 'kube-scheduler -> kube-apiserver client certificate', holder: 'kube-scheduler', usage: 'client' },
  // kubelet.conf points at the kubelet's rotating client certificate; kubeadm does not renew it (the kubelet does)
  { path: `${KUBECONFIG_DIR}/kubelet.conf`, kind: 'kubeconfig', ca: 'ca', peer: 'kube-apiserver', role: 'kubelet -> kube-apiserver client certificate', holder: 'kubelet', usage: 'client' },
];

export function kubeadmCertByPath(path: string): KubeadmCert | undefined {
  return KUBEADM_CERTS.find((c) => c.path === path);
}

export function kubeadmCertByRenewName(name: string): KubeadmCert | undefined {
  return KUBEADM_CERTS.find((c) => c.renewName === name);
}

/** The key file next to a certificate file (kubeadm: name.crt / name.key). */
export function keyPathOf(certPath: string): string {
  return certPath.replace(/\.crt$/, '.key');
}
