// Node-level file and static pod operations on a kubeadm control plane, through the provider's node exec
// (docker exec into kind nodes). Certificate bytes may travel; private keys are only copied node-side, and
// read into memory only where a TLS handshake needs them (never logged).
import { nodeSh, shQuote, type NodeAccess } from '../cluster/node-access.js';

export async function nodeSha256(na: NodeAccess, node: string, paths: string[]): Promise<Record<string, string | undefined>> {
  const res = await nodeSh(na, node, paths.map((p) => `sha256sum ${shQuote(p)} 2>/dev/null || echo "- ${p}"`).join('\n'));
  const out: Record<string, string | undefined> = Object.fromEntries(paths.map((p) => [p, undefined]));
  for (const line of res.stdout.split('\n')) {
    const m = /^([0-9a-f]{64})\s+(\S+)$/.exec(line.trim());
    if (m && m[2]! in out) out[m[2]!] = m[1];
  }
  return out;
}

/** Copies files node-side (cp -p keeps mode and times); the bytes never leave the node. */
export async function copyOnNode(na: NodeAccess, node: string, pairs: Array<{ from: string; to: string }>): Promise<void> {
  const dirs = [...new Set(pairs.map((p) => p.to.replace(/\/[^/]+$/, '')))];
  const script = [`mkdir -p ${dirs.map(shQuote).join(' ')}`, `chmod 700 ${dirs.map(shQuote).join(' ')}`, ...pairs.map((p) => `cp -p ${shQuote(p.from)} ${shQuote(`${p.to}.faultline-tmp`)} && mv ${shQuote(`${p.to}.faultline-tmp`)} ${shQuote(p.to)}`)].join(' && ');
  const res = await nodeSh(na, node, script);
  if (res.exitCode !== 0) throw new Error(`cannot copy files on ${node}: ${res.stderr.trim()}`);
}

/** Stops the running container(s) of a static pod with containerd's ctr; the kubelet starts a new one that
 *  reads the certificate files again. A static pod in crash-loop back-off, and the kubelet itself, get a
 *  kubelet restart (systemctl). Returns what was done. */
export async function restartHolder(na: NodeAccess, node: string, holder: string): Promise<string> {
  if (holder === 'kubectl') return 'nothing to restart (kubeconfig used by kubectl)';
  if (holder === 'kubelet') {
    const res = await nodeSh(na, node, 'systemctl restart kubelet', 60_000);
    if (res.exitCode !== 0) throw new Error(`systemctl restart kubelet on ${node}: ${res.stderr.trim()}`);
    return `restarted the kubelet on ${node}`;
  }
  const script = [
    'n=0',
    `for c in $(ctr -n k8s.io c ls -q ${shQuote(`labels."io.kubernetes.container.name"==${holder}`)}); do`,
    '  if ctr -n k8s.io t ls | awk -v c="$c" \'$1==c && $3=="RUNNING" {f=1} END {exit !f}\'; then ctr -n k8s.io t kill -s SIGKILL "$c" && n=$((n+1)); fi',
    'done',
    'echo "#stopped $n"',
  ].join('\n');
  const res = await nodeSh(na, node, script, 30_000);
  const n = Number(/#stopped (\d+)/.exec(res.stdout)?.[1] ?? 0);
  if (n > 0) return `stopped the running ${holder} container on ${node}; the kubelet starts a new one`;
  // crash-looping: the kubelet's back-off (up to 5 minutes) would hold the next start; it lives in the kubelet's
  // memory, so restarting the kubelet (running containers keep running) starts the static pod now
  const kubelet = await nodeSh(na, node, 'systemctl restart kubelet', 60_000);
  if (kubelet.exitCode !== 0) return `${holder} on ${node} had no running container; restarting the kubelet failed (${kubelet.stderr.trim()}), it starts after its back-off`;
  return `${holder} on ${node} had no running container (crash-loop back-off): restarted the kubelet so it starts ${holder} now`;
}

/** GET /readyz on the node's own API server (anonymous; kubeadm allows it), without the API client. */
export async function apiserverReadyz(na: NodeAccess, node: string): Promise<{ ok: boolean; body: string }> {
  const res = await nodeSh(na, node, 'curl -sk -m 5 https://127.0.0.1:6443/readyz || echo "#down $?"', 15_000).catch((err: Error) => ({ stdout: `#error ${err.message}`, exitCode: 1, stderr: '' }));
  const body = res.stdout.trim();
  return { ok: body === 'ok', body: body.slice(0, 300) };
}
