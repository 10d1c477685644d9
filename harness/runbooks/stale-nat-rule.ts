// stale-nat-rule: pods on some nodes cannot reach anything outside the cluster because a nat rule no component
// owns takes their traffic before the CNI's MASQUERADE (or the masquerade is stranded in a backup chain nothing
// references). The fix the operations notes give: on each node, flush the stale chain (and remove what enters it).
// Remediate reads each node's nat table again and removes only what the detector's walk names as the cause there;
// verify connects from a pod on every node to the endpoint outside the cluster.
import { z } from 'zod';
import type { RunContext } from '../cluster/context.js';
import { nodeSh, requireNodeAccess } from '../cluster/node-access.js';
import { execInPod } from '../cluster/pod-exec.js';
import { selectorQuery } from '../cluster/kube.js';
import { natShell as nat, words, type NatRule } from '../detectors/nat-table.js';
import { analyzePodEgress, collectPodEgress, staleChain, verdicts, type Cause } from '../detectors/pod-egress.js';
import type { Finding } from '../detectors/types.js';
import { parseResource, type Diagnosis, type Runbook, type VerifyResult } from './types.js';

export const VerifyParams = z
  .object({
    namespace: z.string().min(1),
    /** a DaemonSet with a pod on every node, whose image has sh and nc */
    daemonset: z.string().min(1),
    /** the endpoint outside the cluster, as the pods address it */
    target: z.object({ host: z.string().regex(/^[A-Za-z0-9.-]+$/), port: z.number().int().min(1).max(65535), path: z.string().regex(/^\/[A-Za-z0-9/._-]*$/).default('/') }).strict(),
    timeoutSeconds: z.number().int().min(1).max(30).default(3),
  })
  .strict();
type VerifyParams = z.infer<typeof VerifyParams>;

/** The commands that undo a cause on a node: the rule deleted and the chain it leads into (or strands NAT in)
 *  flushed and deleted. */
export function undoScript(c: Cause): string {
  const r: NatRule = c.rule;
  const chain = c.kind === 'stranded' ? r.chain : staleChain(r);
  const steps = c.kind === 'unowned' ? [`${nat('-D', r.chain, ...words(r.spec))}`] : [];
  // a chain still entered from elsewhere cannot be deleted: flushing it already takes the rule out
  if (chain) steps.push(`${nat('-F', chain)}`, `(${nat('-X', chain)} 2>/dev/null || true)`);
  return steps.join(' && ');
}

/** "HTTP/1.0 200 OK" from a pod: the first line of an HTTP answer over nc. */
async function probe(ctx: RunContext, p: VerifyParams, pod: { name: string; container: string; node: string }): Promise<{ ok: boolean; line: string }> {
  const req = `printf 'GET ${p.target.path} HTTP/1.0\\r\\n\\r\\n' | nc -w ${p.timeoutSeconds} ${p.target.host} ${p.target.port} | head -1`;
  const res = await execInPod(ctx.kube.kc, { namespace: p.namespace, pod: pod.name, container: pod.container }, ['sh', '-c', req], { timeoutMs: (p.timeoutSeconds + 10) * 1000 }).catch((err: Error) => ({ exitCode: -1, stdout: '', stderr: err.message }));
  const first = res.stdout.trim().split('\n')[0] ?? '';
  const ok = /^HTTP\/1\.[01] \d{3}/.test(first);
  return { ok, line: `pod ${pod.name} on ${pod.node} → ${p.target.host}:${p.target.port}${p.target.path}: ${ok ? first : `no answer within ${p.timeoutSeconds} s${res.stderr.trim() ? ` (${res.stderr.trim()})` : ''}`}` };
}

export const staleNatRuleRunbook: Runbook = {
  id: 'stale-nat-rule',
  title: 'Pods cannot reach outside the cluster: a stale nat rule takes their traffic before the masquerade',
  verifyParams: VerifyParams,

  async diagnose(_ctx, finding: Finding): Promise<Diagnosis> {
    const nodes = finding.resources.map(parseResource).filter((r) => r.kind === 'Node').map((r) => r.name);
    return { runbook: 'stale-nat-rule', summary: finding.summary, details: [finding.rootCause, ...finding.evidence], data: { nodes } };
  },

  async remediate(ctx, d) {
    const { nodes } = d.data as { nodes: string[] };
    const na = requireNodeAccess(ctx, 'the nat tables are on the nodes');
    const actions: string[] = [];
    for (const v of verdicts(await collectPodEgress(ctx))) {
      if (!v.cause || !nodes.includes(v.node)) continue;
      const script = undoScript(v.cause);
      const res = await nodeSh(na, v.node, script, 30_000);
      if (res.exitCode !== 0) throw new Error(`on ${v.node}: ${script}: ${res.stderr.trim()}`);
      actions.push(`${v.node}: ${script.replace(/'/g, '')}`);
    }
    return { mode: 'automatic', actions: actions.length ? actions : ['no stale nat rule left on the nodes named'] };
  },

  async verify(ctx, raw): Promise<VerifyResult> {
    const p = VerifyParams.parse(raw);
    const ds = await ctx.kube.apps.readNamespacedDaemonSet({ name: p.daemonset, namespace: p.namespace });
    const pods = (await ctx.kube.core.listNamespacedPod({ namespace: p.namespace, labelSelector: selectorQuery(ds.spec?.selector) })).items.filter((x) => x.status?.phase === 'Running' && !x.metadata?.deletionTimestamp);
    const nodes = (await ctx.kube.core.listNode()).items.map((n) => n.metadata?.name ?? '');
    const onNode = new Map(pods.map((x) => [x.spec?.nodeName ?? '', x]));
    const missing = nodes.filter((n) => !onNode.has(n));
    const probes = await Promise.all([...onNode].map(([node, x]) => probe(ctx, p, { name: x.metadata?.name ?? '', container: x.spec?.containers[0]?.name ?? '', node })));
    const left = analyzePodEgress(await collectPodEgress(ctx));
    return {
      ok: missing.length === 0 && probes.every((x) => x.ok) && left.length === 0,
      details: [
        ...probes.map((x) => x.line),
        ...missing.map((n) => `node ${n}: no running pod of DaemonSet ${p.namespace}/${p.daemonset}`),
        left.length ? `nat tables: ${left[0]!.summary}` : 'nat tables: every node masquerades pod traffic leaving the pod network, nothing stale on its way',
      ],
    };
  },

  markdown() {
    return MARKDOWN;
  },
};

const MARKDOWN = `# Runbook: pods cannot reach outside the cluster, pod-to-pod works

**Signature.** Connections from pods on some nodes to anything outside the cluster time out; the same pods reach
other pods, and pods on other nodes reach the outside. The CNI may log that it cannot reconcile its iptables rules.

**Why.** A packet from a pod to an address outside the pod network must be masqueraded (SNAT to the node's address)
in the nat table's POSTROUTING, usually by a chain of the CNI (FLANNEL-POSTRTG, CILIUM_POST_nat, cali-nat-outgoing).
A rule ahead of it that ACCEPTs or RETURNs that traffic ends the walk, and the packet leaves with the pod's address:
the reply is sent to an address the outside cannot route. A CNI that renames its chains on upgrade (Cilium's OLD_*
backups) can leave the masquerade in a chain nothing enters while its live chain stays empty.

**Steps.**
1. On a node where it fails: \`iptables-save -t nat\`. Follow POSTROUTING from the top for a packet from a pod
   address to an outside address; note the first rule that matches and whether it is the CNI's masquerade.
2. A rule or chain no component owns (no CNI or kube-proxy comment, an OLD_ name, a chain with no references that
   holds the masquerade) is the stale one.
3. Remove it on every node where it is: \`iptables -t nat -D POSTROUTING <rule>\`, then
   \`iptables -t nat -F <chain>\` and \`iptables -t nat -X <chain>\`. Restarting the CNI's agent rewrites its own rules.
4. Verify from a pod on every node that the outside endpoint answers.

**faultline automates** steps 1-4: the \`pod-egress\` detector walks each node's nat table, the runbook removes the
cause it names on each node, and verify connects from a pod of the given DaemonSet on every node.
`;
