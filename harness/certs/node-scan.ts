// Collects, from every node through node exec, what a certificate check needs: the certificates (only the
// CERTIFICATE blocks: keys never leave the node here) of /etc/kubernetes/pki, of every kubeconfig in
// /etc/kubernetes (embedded or referenced) and the kubelet's; the lines in the components' own logs that name
// TLS failures; and real handshakes with the live endpoints using the node's own client certificates.
import type { NodeAccess } from '../cluster/node-access.js';
import { nodeSh } from '../cluster/node-access.js';
import { probeTls, type ProbeResult } from './probe.js';
import { CA_FILES, KUBECONFIG_DIR, PKI_DIR, keyPathOf } from './kubeadm-pki.js';
import { mustReadNodeFile } from '../cluster/node-files.js';

export interface ScannedFile {
  /** file path; for a kubeconfig, the kubeconfig's path (the certificate may live elsewhere: `from`) */
  path: string;
  source: 'pki' | 'kubeconfig' | 'kubelet';
  /** where the PEM came from when not the file itself (client-certificate path, or "client-certificate-data") */
  from?: string;
  /** modification time (unix seconds) of a pki file: log lines from before it are about an earlier certificate */
  mtime?: number;
  pem: string;
}

export interface EndpointProbe {
  endpoint: string;
  /** who makes this handshake in the cluster */
  role: string;
  /** client certificate presented, if any */
  client?: string;
  result: ProbeResult;
}

export interface NodeCerts {
  node: string;
  ip?: string;
  files: ScannedFile[];
  /** the components' own log lines about TLS (kube-apiserver container log, etcd log, kubelet journal) */
  logs: Array<{ component: string; line: string }>;
  probes: EndpointProbe[];
  error?: string;
}

const CERT_BLOCKS = "sed -n '/-----BEGIN CERTIFICATE-----/,/-----END CERTIFICATE-----/p'";
// what the components log about certificates (kube-apiserver: its etcd client's handshake and the start-up
// failure it leads to; etcd: connections it rejected; kubelet: clients it could not authenticate)
const TLS_WORDS = 'x509: |tls: |authentication handshake failed|Unable to authenticate|bad certificate|unknown authority';
const APISERVER_WORDS = `${TLS_WORDS}|Error creating leases|broken pipe`;

/** the components' log lines about TLS, as a section of the scan output */
export const LOG_SCRIPT = [
  'echo "===LOGS"',
  // the two newest kube-apiserver container logs: the one failing now and the one before it
  `for f in $(ls -t /var/log/pods/kube-system_kube-apiserver-*/kube-apiserver/*.log 2>/dev/null | head -n 2); do tail -n 400 "$f" | grep -E '${APISERVER_WORDS}' | tail -n 3; done | sort | tail -n 4 | sed 's/^/kube-apiserver /' | cut -c1-700`,
  `f=$(ls -t /var/log/pods/kube-system_etcd-*/etcd/*.log 2>/dev/null | head -n 1); [ -n "$f" ] && tail -n 400 "$f" | grep -E '${TLS_WORDS}' | tail -n 3 | sed 's/^/etcd /' | cut -c1-700`,
  `journalctl -u kubelet --since '-10min' --no-pager -o short-iso-precise 2>/dev/null | grep -E '${TLS_WORDS}' | tail -n 3 | sed 's/^/kubelet /' | cut -c1-700`,
].join('\n');

export const SCAN_SCRIPT = [
  // IPv4 first: etcd listens on the node's IPv4 address
  "echo \"===IP $( (hostname -i 2>/dev/null | tr ' ' '\\n' | grep -v : ; hostname -i 2>/dev/null | awk '{print $1}') | head -n 1)\"",
  `for f in $(find ${PKI_DIR} -name '*.crt' 2>/dev/null | sort); do echo "===PKI $f $(stat -c %Y "$f")"; ${CERT_BLOCKS} "$f"; done`,
  `for f in ${KUBECONFIG_DIR}/*.conf; do [ -f "$f" ] || continue`,
  '  for d in $(grep -E "^\\s*client-certificate-data:" "$f" | awk \'{print $2}\'); do echo "===KCDATA $f"; echo "$d" | base64 -d 2>/dev/null | ' + CERT_BLOCKS + '; done',
  '  for p in $(grep -E "^\\s*client-certificate:" "$f" | awk \'{print $2}\'); do echo "===KCFILE $f $p"; [ -f "$p" ] && ' + CERT_BLOCKS + ' "$p"; done',
  'done',
  `[ -f /var/lib/kubelet/pki/kubelet.crt ] && { echo "===KUBELET /var/lib/kubelet/pki/kubelet.crt"; ${CERT_BLOCKS} /var/lib/kubelet/pki/kubelet.crt; }`,
  LOG_SCRIPT,
].join('\n');

/** Pure: splits the scan script's output. */
export function parseScan(node: string, stdout: string): NodeCerts {
  const out: NodeCerts = { node, files: [], logs: [], probes: [] };
  const sections = stdout.split(/^===/m).slice(1);
  for (const sec of sections) {
    const nl = sec.indexOf('\n');
    const head = (nl < 0 ? sec : sec.slice(0, nl)).trim();
    const body = nl < 0 ? '' : sec.slice(nl + 1);
    const [tag, a, b] = head.split(/\s+/);
    if (tag === 'IP' && a) out.ip = a;
    else if (tag === 'PKI' && a) out.files.push({ path: a, source: 'pki', ...(Number(b) > 0 ? { mtime: Number(b) } : {}), pem: body });
    else if (tag === 'KCDATA' && a) out.files.push({ path: a, source: 'kubeconfig', from: 'client-certificate-data', pem: body });
    else if (tag === 'KCFILE' && a) out.files.push({ path: a, source: 'kubeconfig', from: b ?? '', pem: body });
    else if (tag === 'KUBELET' && a) out.files.push({ path: a, source: 'kubelet', pem: body });
    else if (tag === 'LOGS') {
      for (const l of body.split('\n').filter((x) => x.trim())) {
        const i = l.indexOf(' ');
        out.logs.push({ component: l.slice(0, i), line: l.slice(i + 1) });
      }
    }
  }
  return out;
}

/** A control-plane client certificate and its key (read into memory for handshakes only). */
export interface ClientPair {
  path: string;
  cert: string;
  key: string;
}

/** The handshakes the control plane makes, made again with the control plane's own certificates:
 *  clients -> kube-apiserver (on control-plane nodes), kube-apiserver -> etcd (same), kube-apiserver -> kubelet
 *  (every node, with the control plane's apiserver-kubelet-client certificate when there is one). */
export async function probeEndpoints(n: NodeCerts, opts: { controlPlane: boolean; etcdClient?: ClientPair; kubeletClient?: ClientPair; timeoutMs?: number }): Promise<EndpointProbe[]> {
  if (!n.ip) return [];
  const timeoutMs = opts.timeoutMs ?? 5000;
  const pemOf = (path: string) => n.files.find((f) => f.source === 'pki' && f.path === path)?.pem;
  const host = n.ip;
  const probes: Array<Promise<EndpointProbe>> = [];
  if (opts.controlPlane) {
    probes.push(
      probeTls({ host, port: 6443, servername: 'kubernetes', ca: pemOf(CA_FILES.ca), timeoutMs }).then((result) => ({ endpoint: `kube-apiserver ${host}:6443`, role: 'clients -> kube-apiserver', result })),
    );
    const c = opts.etcdClient;
    probes.push(
      probeTls({ host, port: 2379, ca: pemOf(CA_FILES['etcd-ca']), ...(c ? { cert: c.cert, key: c.key } : {}), timeoutMs }).then((result) => ({
        endpoint: `etcd ${host}:2379`,
        role: 'kube-apiserver -> etcd',
        ...(c ? { client: c.path } : {}),
        result,
      })),
    );
  }
  const k = opts.kubeletClient;
  // the kubelet authenticates client certificates above TLS: a rejected one gets HTTP 401 (anonymous too,
  // so without a client certificate only the handshake is made)
  probes.push(
    probeTls({ host, port: 10250, ...(k ? { cert: k.cert, key: k.key, httpGet: '/healthz' } : {}), timeoutMs }).then((result) => ({
      endpoint: `kubelet ${host}:10250`,
      role: 'kube-apiserver -> kubelet',
      ...(k ? { client: k.path } : {}),
      result,
    })),
  );
  return Promise.all(probes);
}

export async function scanNode(na: NodeAccess, node: string): Promise<NodeCerts> {
  try {
    const res = await nodeSh(na, node, SCAN_SCRIPT, 20_000);
    return parseScan(node, res.stdout);
  } catch (err) {
    return { node, files: [], logs: [], probes: [], error: (err as Error).message };
  }
}

const ETCD_CLIENT = `${PKI_DIR}/apiserver-etcd-client.crt`;
const KUBELET_CLIENT = `${PKI_DIR}/apiserver-kubelet-client.crt`;

/** Every node scanned, control-plane nodes first; endpoints probed with the first control plane's clients. */
export async function scanCluster(na: NodeAccess, controlPlanes: string[], all: string[]): Promise<NodeCerts[]> {
  const order = [...controlPlanes, ...all.filter((n) => !controlPlanes.includes(n))];
  // the control planes' client keys are read alongside the scans (each read is a round trip to a node)
  const keyOf = (node: string, path: string) => mustReadNodeFile(na, node, keyPathOf(path)).then((b) => b.toString('utf8'), () => undefined);
  const keys = new Map(controlPlanes.map((node) => [node, { etcd: keyOf(node, ETCD_CLIENT), kubelet: keyOf(node, KUBELET_CLIENT) }] as const));
  const scanned = await Promise.all(order.map((node) => scanNode(na, node)));
  const pair = async (n: NodeCerts, path: string, key: Promise<string | undefined> | undefined): Promise<ClientPair | undefined> => {
    const cert = n.files.find((f) => f.source === 'pki' && f.path === path)?.pem;
    const k = await key;
    return cert && k ? { path, cert, key: k } : undefined;
  };
  // each control-plane node's kube-apiserver uses its own client certificates; the other nodes' kubelets are
  // reached with the first control plane's
  const pairs = new Map(
    await Promise.all(
      scanned.filter((n) => !n.error && controlPlanes.includes(n.node)).map(async (n) => {
        const [etcd, kubelet] = await Promise.all([pair(n, ETCD_CLIENT, keys.get(n.node)?.etcd), pair(n, KUBELET_CLIENT, keys.get(n.node)?.kubelet)]);
        return [n.node, { etcd, kubelet }] as const;
      }),
    ),
  );
  const firstKubeletClient = [...pairs.values()][0]?.kubelet;
  await Promise.all(
    scanned.map(async (n) => {
      if (n.error) return;
      const controlPlane = controlPlanes.includes(n.node);
      const etcdClient = pairs.get(n.node)?.etcd;
      const kubeletClient = controlPlane ? pairs.get(n.node)?.kubelet : firstKubeletClient;
      n.probes = await probeEndpoints(n, { controlPlane, ...(etcdClient ? { etcdClient } : {}), ...(kubeletClient ? { kubeletClient } : {}) });
      // a peer that rejected our handshake logs it: read the logs again so that line is evidence now, not a poll later
      if (n.probes.some((p) => !p.result.ok && /alert|certificate|HTTP 401/i.test(p.result.error ?? ''))) {
        // (a second for the container runtime to write the line)
        const again = await nodeSh(na, n.node, `sleep 1\n${LOG_SCRIPT}`, 20_000).catch(() => undefined);
        if (again?.exitCode === 0) n.logs = parseScan(n.node, again.stdout).logs;
      }
    }),
  );
  return scanned;
}
