// Node-level access for detectors and runbooks that must keep working while the API server is down (etcd
// scenarios). Detectors are handed a KubeContext; inside a run it is a RunContext carrying the provider, so
// node access is used where the provider offers it and skipped (API fallback) where it does not.
import type { KubeContext } from './context.js';
import type { ClusterRef, ExecResult, Provider } from './types.js';

export interface NodeAccess {
  provider: Provider;
  cluster: ClusterRef;
}

/** Node access, or an error naming the provider and what the caller needs it for (or what to do instead). */
export function requireNodeAccess(ctx: KubeContext & { provider: Provider }, why: string): NodeAccess {
  const na = nodeAccess(ctx);
  if (!na) throw new Error(`provider ${ctx.provider.kind} has no node access: ${why}`);
  return na;
}

export function nodeAccess(ctx: KubeContext): NodeAccess | undefined {
  const c = ctx as KubeContext & Partial<NodeAccess>;
  if (!c.provider || !c.cluster) return undefined;
  try {
    if (!c.provider.capabilities().nodeExec) return undefined;
  } catch {
    return undefined;
  }
  return { provider: c.provider, cluster: c.cluster };
}

/** Control-plane nodes (kind role "control-plane"); on a single-node cluster that node. */
export async function controlPlaneNodes(na: NodeAccess): Promise<string[]> {
  const nodes = await na.provider.nodes(na.cluster);
  const cp = nodes.filter((n) => n.roles.some((r) => r === 'control-plane' || r === 'master'));
  return (cp.length ? cp : nodes.slice(0, 1)).map((n) => n.name);
}

/** The node a fault targets: the one asked for, or the first control-plane node. */
export async function targetControlPlaneNode(na: NodeAccess, asked?: string): Promise<string> {
  if (asked) return asked;
  const [first] = await controlPlaneNodes(na);
  if (!first) throw new Error('no control-plane node');
  return first;
}

export async function nodeSh(na: NodeAccess, node: string, script: string, timeoutMs = 20_000, input?: string): Promise<ExecResult> {
  return na.provider.exec(na.cluster, node, ['sh', '-c', script], { timeoutMs, ...(input !== undefined ? { input } : {}) });
}

/** One shell word for a node script, whatever the string holds. */
export function shQuote(a: string): string {
  return `'${a.replace(/'/g, `'\\''`)}'`;
}
