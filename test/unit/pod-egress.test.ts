// pod-egress on nat tables from real kind nodes (test/unit/fixtures/nat) and on variants written from the shapes
// other CNIs leave (a Cilium backup chain, a stray ACCEPT or RETURN in POSTROUTING, a routable pod network that
// never masquerades): no cluster; the kernel's NAT is e2e territory.
import { describe, expect, test } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { egressPath, hostIn, inCidr, leftoverChains, natForCompare, ownedBy, parseNatTable, unreferencedChains } from '../../harness/detectors/nat-table.js';
import { analyzePodEgress, OUTSIDE, type NodeNat } from '../../harness/detectors/pod-egress.js';

const fixture = (f: string) => readFileSync(join('test/unit/fixtures/nat', f), 'utf8');
const WORKER = fixture('kind-flannel-worker.txt');
const STALE = fixture('kind-flannel-stale.txt');
const CP = fixture('kind-flannel-control-plane.txt');

const nat = (rules: string[], chains: string[] = []) => ['*nat', ':PREROUTING ACCEPT [0:0]', ':INPUT ACCEPT [0:0]', ':OUTPUT ACCEPT [0:0]', ':POSTROUTING ACCEPT [0:0]', ...chains.map((c) => `:${c} - [0:0]`), ...rules, 'COMMIT'].join('\n');
const snap = (nodes: NodeNat[]) => ({ kind: 'pod-egress' as const, nodes });

describe('the nat table walk', () => {
  test("a healthy kind worker: kube-proxy's chain returns an unmarked packet, flannel masquerades it", () => {
    const p = egressPath(parseNatTable(WORKER), hostIn('10.244.1.0/24'), OUTSIDE);
    expect(p.outcome).toBe('masqueraded');
    expect(p.decidedBy!.chain).toBe('FLANNEL-POSTRTG');
    expect(p.decidedBy!.spec).toContain('-s 10.244.0.0/16 ! -d 224.0.0.0/4');
    // pod-to-pod: flannel's RETURN back to POSTROUTING, whose end NATs nothing (and nothing stale on the way)
    expect(egressPath(parseNatTable(WORKER), '10.244.1.5', '10.244.0.7')).toEqual({ outcome: 'not-natted', path: [] });
  });

  test('the stale chain ahead of flannel: the packet leaves un-NATed, decided by its ACCEPT', () => {
    const p = egressPath(parseNatTable(STALE), hostIn('10.244.1.0/24'), OUTSIDE);
    expect(p.outcome).toBe('not-natted');
    expect(p.path.map((r) => `${r.chain} ${r.index}`)).toEqual(['POSTROUTING 1', 'OLD_CNI_POST_nat 1']);
    expect(p.decidedBy!.comment).toBe('cni masquerade non-cluster');
  });

  test('CIDRs, marks and ownership', () => {
    expect([inCidr('10.244.1.1', '10.244.0.0/16'), inCidr('10.245.0.1', '10.244.0.0/16'), inCidr('1.2.3.4', '0.0.0.0/0')]).toEqual([true, false, true]);
    const t = parseNatTable(WORKER);
    expect(t.rules.find((r) => r.chain === 'KUBE-POSTROUTING')!.mark).toEqual({ value: 0x4000, mask: 0x4000, negated: true });
    expect(t.rules.filter((r) => !ownedBy(r)).map((r) => r.spec)).toEqual([]);
    expect(parseNatTable(STALE).rules.filter((r) => !ownedBy(r)).map((r) => `${r.chain}: ${r.spec}`)).toEqual([
      'POSTROUTING: -j OLD_CNI_POST_nat',
      'OLD_CNI_POST_nat: -s 10.244.0.0/16 ! -d 10.244.0.0/16 -m comment --comment "cni masquerade non-cluster" -j ACCEPT',
    ]);
    // KUBE-MARK-MASQ's references are in kube-proxy's per-Service chains, left out of the fixture
    expect(unreferencedChains(t)).toEqual(['KUBE-KUBELET-CANARY', 'KUBE-MARK-MASQ', 'KUBE-PROXY-CANARY']);
    expect(leftoverChains(t)).toEqual([]);
  });
});

describe('pod-egress', () => {
  test('the stale chain on the worker: the node named, the rule and chain, the healthy node for contrast, what to change', () => {
    const [f, ...rest] = analyzePodEgress(snap([{ node: 'worker', podCidr: '10.244.1.0/24', nat: STALE }, { node: 'control-plane', podCidr: '10.244.0.0/24', nat: CP }]));
    expect(rest).toEqual([]);
    expect(f!.summary).toBe('pods on node worker leave the pod network without NAT: rule 1 of POSTROUTING: -j OLD_CNI_POST_nat, which no component owns, takes their traffic before any MASQUERADE');
    expect(f!.rootCause).toContain('rule 1 of OLD_CNI_POST_nat: -s 10.244.0.0/16 ! -d 10.244.0.0/16 -m comment --comment "cni masquerade non-cluster" -j ACCEPT ends the nat table');
    expect(f!.rootCause).toContain('on control-plane the same packet is masqueraded (rule 5 of FLANNEL-POSTRTG');
    expect(f!.rootCause).toContain('To change: on each of those nodes delete the rule (iptables -t nat -D POSTROUTING -j OLD_CNI_POST_nat), then flush chain OLD_CNI_POST_nat (iptables -t nat -F OLD_CNI_POST_nat) and delete it');
    expect(f!.evidence[0]).toBe('node worker: a packet from 10.244.1.1 to 192.0.2.1 goes POSTROUTING rule 1 → OLD_CNI_POST_nat rule 1: not NATed (rule 1 of OLD_CNI_POST_nat: -s 10.244.0.0/16 ! -d 10.244.0.0/16 -m comment --comment "cni masquerade non-cluster" -j ACCEPT)');
    expect(f!.resources).toEqual(['/Node/worker']);
    expect(f!.runbook).toBe('stale-nat-rule');
  });

  test('a stray ACCEPT or RETURN directly in POSTROUTING, on every node: named with no chain to flush', () => {
    const accept = WORKER.replace('-A POSTROUTING -m comment --comment "kubernetes postrouting rules"', '-A POSTROUTING -s 10.244.0.0/16 -j ACCEPT\n-A POSTROUTING -m comment --comment "kubernetes postrouting rules"');
    const [f] = analyzePodEgress(snap([{ node: 'a', podCidr: '10.244.1.0/24', nat: accept }, { node: 'b', podCidr: '10.244.1.0/24', nat: accept }]));
    expect(f!.summary).toContain('pods on nodes a, b leave the pod network without NAT: rule 1 of POSTROUTING: -s 10.244.0.0/16 -j ACCEPT');
    expect(f!.rootCause).toMatch(/delete the rule \(iptables -t nat -D POSTROUTING -s 10\.244\.0\.0\/16 -j ACCEPT\)$/);
    const ret = nat(['-A POSTROUTING -j RETURN', '-A POSTROUTING -s 10.42.0.0/16 -j MASQUERADE'], []);
    expect(analyzePodEgress(snap([{ node: 'k3s', podCidr: '10.42.0.0/24', nat: ret }]))[0]!.summary).toContain('rule 1 of POSTROUTING: -j RETURN');
  });

  test("the seed's shape: Cilium's masquerade left in an OLD_ backup chain nothing references, the live chain without it", () => {
    const cilium = nat(
      [
        '-A POSTROUTING -m comment --comment "cilium-feeder: CILIUM_POST_nat" -j CILIUM_POST_nat',
        '-A CILIUM_POST_nat -m mark --mark 0xa00/0xe00 -m comment --comment "exclude proxy return traffic from masquerade" -j ACCEPT',
        '-A OLD_CILIUM_POST_nat -s 10.42.0.0/24 ! -d 10.42.0.0/24 ! -o cilium_+ -m comment --comment "cilium masquerade non-cluster" -j MASQUERADE',
        '-A OLD_CILIUM_POST_nat -s 10.42.0.0/24 ! -d 10.42.0.0/24 -m comment --comment "cilium masquerade non-cluster" -j MASQUERADE',
      ],
      ['CILIUM_POST_nat', 'OLD_CILIUM_POST_nat'],
    );
    const [f] = analyzePodEgress(snap([{ node: 'n1', podCidr: '10.42.0.0/24', nat: cilium }]));
    expect(f!.summary).toBe('pods on node n1 leave the pod network without NAT: the MASQUERADE for their traffic is in chain OLD_CILIUM_POST_nat, which nothing references (rule 2 of OLD_CILIUM_POST_nat: -s 10.42.0.0/24 ! -d 10.42.0.0/24 -m comment --comment "cilium masquerade non-cluster" -j MASQUERADE)');
    expect(f!.rootCause).toContain('flush chain OLD_CILIUM_POST_nat (iptables -t nat -F OLD_CILIUM_POST_nat)');
    expect(f!.evidence).toContain('chain OLD_CILIUM_POST_nat has no references on n1');
  });

  test('quiet: healthy nodes; a routable pod network that never masquerades; a node whose table could not be read', () => {
    expect(analyzePodEgress(snap([{ node: 'w', podCidr: '10.244.1.0/24', nat: WORKER }, { node: 'cp', podCidr: '10.244.0.0/24', nat: CP }]))).toEqual([]);
    const routable = nat(['-A POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING', '-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN'], ['KUBE-POSTROUTING']);
    expect(analyzePodEgress(snap([{ node: 'vpc', podCidr: '10.0.1.0/24', nat: routable }]))).toEqual([]);
    expect(analyzePodEgress(snap([{ node: 'x', podCidr: '10.244.1.0/24', error: 'iptables-save -t nat: exit 127' }]))).toEqual([]);
    expect(analyzePodEgress({ kind: 'other' } as never)).toEqual([]);
  });
});

describe('stale-nat-rule remediation and the nat-stale-rule fault (no node)', () => {
  test('undo: the jump deleted, the chain flushed and deleted; a stray POSTROUTING rule only deleted; a stranded chain flushed', async () => {
    const { undoScript } = await import('../../harness/runbooks/stale-nat-rule.js');
    const t = parseNatTable(STALE);
    const jump = t.rules.find((r) => r.chain === 'POSTROUTING' && r.target === 'OLD_CNI_POST_nat')!;
    expect(undoScript({ kind: 'unowned', rule: jump })).toBe("'iptables' '-t' 'nat' '-D' 'POSTROUTING' '-j' 'OLD_CNI_POST_nat' && 'iptables' '-t' 'nat' '-F' 'OLD_CNI_POST_nat' && ('iptables' '-t' 'nat' '-X' 'OLD_CNI_POST_nat' 2>/dev/null || true)");
    const stray = parseNatTable(nat(['-A POSTROUTING -s 10.244.0.0/16 -m comment --comment "left over" -j ACCEPT'])).rules[0]!;
    expect(undoScript({ kind: 'unowned', rule: stray })).toBe("'iptables' '-t' 'nat' '-D' 'POSTROUTING' '-s' '10.244.0.0/16' '-m' 'comment' '--comment' 'left over' '-j' 'ACCEPT'");
    const stranded = parseNatTable(nat(['-A OLD_X -s 10.42.0.0/24 -j MASQUERADE'], ['OLD_X'])).rules[0]!;
    expect(undoScript({ kind: 'stranded', rule: stranded })).toBe("'iptables' '-t' 'nat' '-F' 'OLD_X' && ('iptables' '-t' 'nat' '-X' 'OLD_X' 2>/dev/null || true)");
  });

  test("the fault's params: a chain name iptables takes, an IPv4 CIDR, a comment without quotes", async () => {
    const { natStaleRule } = await import('../../harness/faults/nat-stale-rule.js');
    expect(natStaleRule.paramsSchema.parse({})).toEqual({ chain: 'OLD_CNI_POST_nat', podNetwork: '10.244.0.0/16', comment: 'cni masquerade non-cluster', nodes: 'workers' });
    for (const bad of [{ chain: 'A'.repeat(29) }, { chain: 'x y' }, { podNetwork: '10.244.0.0' }, { comment: 'a"b' }, { nodes: 'some' }]) expect(natStaleRule.paramsSchema.safeParse(bad).success).toBe(false);
  });

  test('the comparison view of a table: counters, comments, kube-proxy service chains and hostPort chains out', () => {
    const a = natForCompare(WORKER);
    expect(a.some((l) => /\[\d+:\d+\]/.test(l) || l.startsWith('#'))).toBe(false);
    const busier = WORKER.replace(':POSTROUTING ACCEPT [35:2462]', ':POSTROUTING ACCEPT [99:9999]').replace('\nCOMMIT', '\n:KUBE-SVC-ABC - [0:0]\n-A KUBE-SERVICES -j KUBE-SVC-ABC\nCOMMIT');
    expect(busier).not.toBe(WORKER);
    expect(natForCompare(busier)).toEqual(a);
    expect(natForCompare(STALE)).not.toEqual(a);
    // a pod with a hostPort: portmap's chains and the jumps into them come and go with pods
    const hostPort = WORKER.replace('\nCOMMIT', '\n:CNI-HOSTPORT-DNAT - [0:0]\n:CNI-DN-0123456789abcdef - [0:0]\n-A PREROUTING -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT\n-A CNI-HOSTPORT-DNAT -p tcp -m multiport --dports 8080 -j CNI-DN-0123456789abcdef\nCOMMIT');
    expect(natForCompare(hostPort)).toEqual(a);
  });
});
