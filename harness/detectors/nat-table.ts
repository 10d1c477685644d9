// The nat table as `iptables-save -t nat` prints it, and the path a pod's packet to an address outside the pod
// network takes through POSTROUTING: which rule masquerades it, or which rule lets it leave un-NATed (the reply
// then has no way back). Pure functions, tested on fixture text.
import { shQuote } from '../cluster/node-access.js';

export interface NatRule {
  chain: string;
  /** the rule as iptables-save prints it, without "-A <chain> " */
  spec: string;
  /** position in its chain, from 1 (iptables -L --line-numbers) */
  index: number;
  source?: { cidr: string; negated: boolean };
  destination?: { cidr: string; negated: boolean };
  /** -j target (or -g goto) */
  target?: string;
  comment?: string;
  /** --mark value/mask: a fresh pod packet carries mark 0, so it matches when value is 0 (or, negated, when not) */
  mark?: { value: number; mask: number; negated: boolean };
  /** matches the walk cannot evaluate (interfaces, protocols, ports) */
  other: boolean;
}

export interface NatTable {
  /** every chain, built-in and user-defined */
  chains: string[];
  rules: NatRule[];
}

const BUILTIN = new Set(['PREROUTING', 'INPUT', 'OUTPUT', 'POSTROUTING']);

/** Splits a rule spec into words, keeping quoted strings ("flanneld masq") as one. */
export function words(spec: string): string[] {
  return [...spec.matchAll(/"((?:[^"\\]|\\.)*)"|(\S+)/g)].map((m) => (m[1] !== undefined ? m[1] : m[2]!));
}

function parseRule(chain: string, spec: string, index: number): NatRule {
  const w = words(spec);
  const rule: NatRule = { chain, spec, index, other: false };
  for (let i = 0; i < w.length; i++) {
    const neg = w[i] === '!';
    const flag = neg ? w[++i] : w[i];
    const arg = w[i + 1];
    if (flag === '-s' || flag === '--source') (rule.source = { cidr: arg!, negated: neg }), i++;
    else if (flag === '-d' || flag === '--destination') (rule.destination = { cidr: arg!, negated: neg }), i++;
    else if (flag === '-j' || flag === '-g') {
      rule.target = arg;
      // the target's own options (--to-source, --random-fully) follow it and say nothing about matching
      break;
    } else if (flag === '--comment') (rule.comment = arg), i++;
    else if (flag === '--mark') {
      const [v = '0', m = '0xffffffff'] = (arg ?? '').split('/');
      rule.mark = { value: Number(v), mask: Number(m), negated: neg };
      i++;
    } else if (flag === '-m') i++;
    else rule.other = true;
  }
  return rule;
}

/** kube-proxy's per-Service chains and their rules: rewritten whenever Services or endpoints change. */
const SERVICE_LINE = /^(:|-A )KUBE-(SVC|SEP|EXT|FW|SVL|SERVICES|NODEPORTS)\b/;
/** the CNI portmap plugin's chains for pods with a hostPort, and the jumps into them: they follow the pods */
const HOSTPORT_LINE = /^(:|-A )CNI-(HOSTPORT|DN)-|-j CNI-(HOSTPORT|DN)-/;

/** The nat table as a node's own components keep it, for comparing before and after: comments and counters out,
 *  kube-proxy's per-Service chains and portmap's hostPort chains out (they follow the API's Services and pods,
 *  not the node). */
export function natForCompare(text: string): string[] {
  let inNat = false;
  const out: string[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('*')) inNat = line === '*nat';
    if (!inNat || !line || line.startsWith('#') || SERVICE_LINE.test(line) || HOSTPORT_LINE.test(line)) continue;
    out.push(line.replace(/ \[\d+:\d+\]$/, ''));
  }
  return out;
}

export function parseNatTable(text: string): NatTable {
  const chains: string[] = [];
  const rules: NatRule[] = [];
  const count = new Map<string, number>();
  let inNat = false;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('*')) inNat = line === '*nat';
    if (!inNat) continue;
    const c = /^:(\S+)/.exec(line);
    if (c) chains.push(c[1]!);
    const a = /^-A (\S+) (.*)$/.exec(line);
    if (a) {
      const n = (count.get(a[1]!) ?? 0) + 1;
      count.set(a[1]!, n);
      rules.push(parseRule(a[1]!, a[2]!, n));
    }
  }
  return { chains, rules };
}

/** A shell command line for `iptables -t nat ...`, each word quoted for sh. */
export function natShell(...argv: string[]): string {
  return ['iptables', '-t', 'nat', ...argv].map(shQuote).join(' ');
}

// ---- IPv4 CIDR matching ----

function ipNum(ip: string): number | undefined {
  const p = ip.split('.').map(Number);
  if (p.length !== 4 || p.some((x) => !Number.isInteger(x) || x < 0 || x > 255)) return undefined;
  return ((p[0]! << 24) >>> 0) + (p[1]! << 16) + (p[2]! << 8) + p[3]!;
}

export function inCidr(ip: string, cidr: string): boolean {
  const [base = '', bits = '32'] = cidr.split('/');
  const a = ipNum(ip);
  const b = ipNum(base);
  const n = Number(bits);
  if (a === undefined || b === undefined) return false;
  const mask = n === 0 ? 0 : (~0 << (32 - n)) >>> 0;
  return ((a & mask) >>> 0) === ((b & mask) >>> 0);
}

/** An address inside a CIDR (its first host), for the packet the walk follows. */
export function hostIn(cidr: string): string {
  const [base = '0.0.0.0'] = cidr.split('/');
  const n = (ipNum(base) ?? 0) + 1;
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

// ---- the walk ----

export interface EgressPath {
  /** "masqueraded" by MASQUERADE or SNAT; "not-natted" when a rule lets it out unchanged or nothing NATs it */
  outcome: 'masqueraded' | 'not-natted';
  /** the rules the packet went through to its outcome, outermost first (jumps included) */
  path: NatRule[];
  /** the rule that decided (the NAT rule, or the ACCEPT/RETURN that skipped NAT); absent when nothing matched */
  decidedBy?: NatRule;
}

const matches = (r: NatRule, src: string, dst: string): boolean => {
  if (r.other) return false;
  const m = (x: NatRule['source'], ip: string) => !x || inCidr(ip, x.cidr) !== x.negated;
  // mark 0: (0 & mask) === value
  const mark = !r.mark || (r.mark.value === 0) !== r.mark.negated;
  return mark && m(r.source, src) && m(r.destination, dst);
};

/** Follows a packet from `src` to `dst` through POSTROUTING: user chains are entered on a jump and left on RETURN
 *  or at their end; MASQUERADE/SNAT decide "masqueraded", ACCEPT (or a RETURN from POSTROUTING itself, or its end)
 *  "not-natted". The packet is a pod's fresh one (mark 0, no service DNAT); rules with matches the walk cannot
 *  evaluate (interfaces, protocols, ports) are passed over. Non-terminal targets (MARK, LOG) do not end the walk. */
export function egressPath(t: NatTable, src: string, dst: string): EgressPath {
  const path: NatRule[] = [];
  const walk = (chain: string, depth: number): EgressPath | 'return' => {
    if (depth > 16) return 'return';
    for (const r of t.rules.filter((x) => x.chain === chain)) {
      if (!matches(r, src, dst)) continue;
      const target = r.target ?? '';
      if (target === 'MASQUERADE' || target === 'SNAT') return { outcome: 'masqueraded', path: [...path, r], decidedBy: r };
      if (target === 'ACCEPT') return { outcome: 'not-natted', path: [...path, r], decidedBy: r };
      if (target === 'RETURN') {
        if (BUILTIN.has(chain)) return { outcome: 'not-natted', path: [...path, r], decidedBy: r };
        return 'return';
      }
      if (t.chains.includes(target) && !BUILTIN.has(target)) {
        path.push(r);
        const inner = walk(target, depth + 1);
        if (inner !== 'return') return inner;
        path.pop();
      }
    }
    return 'return';
  };
  const out = walk('POSTROUTING', 0);
  return out === 'return' ? { outcome: 'not-natted', path } : out;
}

/** User chains no rule jumps to. */
export function unreferencedChains(t: NatTable): string[] {
  const used = new Set(t.rules.map((r) => r.target));
  return t.chains.filter((c) => !BUILTIN.has(c) && !used.has(c));
}

/** NAT rules in chains nothing references that would have NATed the packet: a component's masquerade left in
 *  a backup chain (the live chain was never filled again). */
export function strandedNat(t: NatTable, src: string, dst: string): NatRule[] {
  const orphans = new Set(unreferencedChains(t));
  return t.rules.filter((r) => orphans.has(r.chain) && (r.target === 'MASQUERADE' || r.target === 'SNAT') && matches(r, src, dst));
}

/** The components whose chains and rule comments the nat table is expected to hold (kube-proxy, CNIs, Docker,
 *  kind). A chain named OLD_* is a backup a component left behind (Cilium renames its chains so on upgrade). */
const OWNED_CHAIN = /^(KUBE-|FLANNEL-|DOCKER|KIND-|CNI-|cali-|CILIUM_|WEAVE|ANTREA|OVN)/;
const OWNED_COMMENT = /flanneld|kubernetes|kube-proxy|kindnet|cilium|calico|weave|antrea|docker|CNI portfwd|name: "/i;

/** User chains nothing references that no component owns by name (a backup, a leftover): the canaries kube-proxy
 *  and the kubelet keep unreferenced on purpose are not among them. */
export function leftoverChains(t: NatTable): string[] {
  return unreferencedChains(t).filter((c) => /^OLD_/.test(c) || !OWNED_CHAIN.test(c));
}

export function ownedBy(r: NatRule): boolean {
  if (/^OLD_/.test(r.chain)) return false;
  if (OWNED_CHAIN.test(r.chain)) return true;
  if (BUILTIN.has(r.chain) && r.target && OWNED_CHAIN.test(r.target)) return true;
  return !!r.comment && OWNED_COMMENT.test(r.comment);
}
