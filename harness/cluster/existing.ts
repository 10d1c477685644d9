// existing provider: any kubeconfig context (a staging cluster). The API only: no node access of its own (agent pods
// give it: agent-provider.ts), no create.
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { Capabilities, ClusterRef, ExecResult, LoadedImages, NodeRef, Preflight, Provider } from './types.js';
import { UnsupportedError } from './types.js';
import type { ProcessHost } from './process-host.js';
import { connect } from './kube.js';

export function defaultKubeconfigPath(env: NodeJS.ProcessEnv = process.env): string {
  // like kubectl: the first file of $KUBECONFIG, else ~/.kube/config
  const first = env.KUBECONFIG?.split(':').find(Boolean);
  return first ?? join(homedir(), '.kube', 'config');
}

export function existingRef(context: string, kubeconfigPath = defaultKubeconfigPath()): ClusterRef {
  return { provider: 'existing', name: context, context, kubeconfigPath, createdByFaultline: false };
}

export class ExistingProvider implements Provider {
  readonly kind = 'existing' as const;

  capabilities(): Capabilities {
    return { nodeExec: false, nodeExecWithoutApi: false, hostPid: false, kubeadm: false, create: false };
  }

  async preflight(): Promise<Preflight> {
    return { ok: true };
  }

  async create(): Promise<ClusterRef> {
    throw new UnsupportedError('existing', 'creating clusters');
  }

  async delete(): Promise<void> {
    throw new UnsupportedError('existing', 'deleting clusters');
  }

  async list(): Promise<string[]> {
    return [];
  }

  async kubeconfig(ref: ClusterRef): Promise<string> {
    return ref.kubeconfigPath;
  }

  async nodes(ref: ClusterRef): Promise<NodeRef[]> {
    const kube = connect(ref);
    const list = await kube.core.listNode();
    return list.items.map((n) => ({
      name: n.metadata?.name ?? '',
      roles: Object.keys(n.metadata?.labels ?? {})
        .filter((l) => l.startsWith('node-role.kubernetes.io/'))
        .map((l) => l.slice('node-role.kubernetes.io/'.length)),
    }));
  }

  async exec(): Promise<ExecResult> {
    throw new UnsupportedError('existing', 'running commands on nodes');
  }

  /** An existing cluster pulls its own images; nothing is copied into it. */
  async loadImages(_ref: ClusterRef, images: string[]): Promise<LoadedImages> {
    return { loaded: [], skipped: images };
  }

  async hostPid(): Promise<number | undefined> {
    throw new UnsupportedError('existing', 'finding host PIDs');
  }

  async processes(): Promise<ProcessHost> {
    throw new UnsupportedError('existing', "reaching node processes (--node-access agent does)");
  }
}
