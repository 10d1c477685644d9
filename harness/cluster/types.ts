// The cluster provider contract: everything the engine needs from "a cluster", whoever made it.
import type { ProcessHost } from './process-host.js';

export type ProviderKind = 'kind' | 'k3d' | 'existing';

export interface ClusterRef {
  provider: ProviderKind;
  name: string;
  /** kubeconfig context to use inside kubeconfigPath */
  context: string;
  kubeconfigPath: string;
  /** true only for clusters this tool created (and recorded in clusters.json) */
  createdByFaultline: boolean;
  /** node image the cluster was created with, when known */
  nodeImage?: string;
}

export interface NodeRef {
  name: string;
  roles: string[];
  /** container backing the node (kind/k3d); absent for real machines */
  containerId?: string;
}

export interface Capabilities {
  nodeExec: boolean;
  /** node exec that works while the API server is down (docker exec does; agent pods, reached through it, do not) */
  nodeExecWithoutApi: boolean;
  hostPid: boolean;
  kubeadm: boolean;
  create: boolean;
}

export interface CreateSpec {
  name: string;
  configPath?: string;
  image?: string;
  onProgress?(msg: string): void;
  signal?: AbortSignal;
}

export interface LoadedImages {
  loaded: string[];
  skipped: string[];
}

export interface ExecResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

/** Result of a provider's preflight: can it work on this machine, and if not, why. */
export interface Preflight {
  ok: boolean;
  reason?: string;
}

export interface Provider {
  readonly kind: ProviderKind;
  capabilities(): Capabilities;
  /** Cheap check that the tools the provider shells out to are present; never changes anything. */
  preflight(): Promise<Preflight>;
  create(spec: CreateSpec): Promise<ClusterRef>;
  delete(name: string): Promise<void>;
  list(): Promise<string[]>;
  /** path to a kubeconfig file for the cluster */
  kubeconfig(ref: ClusterRef): Promise<string>;
  nodes(ref: ClusterRef): Promise<NodeRef[]>;
  exec(ref: ClusterRef, node: string, argv: string[], opts?: { input?: string; timeoutMs?: number }): Promise<ExecResult>;
  /** Copies images from the local Docker into every node's container runtime, for nodes that cannot pull.
   *  Images Docker does not have are skipped (a node that can reach a registry pulls them itself). */
  loadImages(ref: ClusterRef, images: string[]): Promise<LoadedImages>;
  /** host PID of a process running inside a node, or undefined when none matches: a PID of processes(node) */
  hostPid(ref: ClusterRef, node: string, processName: string): Promise<number | undefined>;
  /** the host where the node's processes are host processes (their /proc, cgroups, and where strace runs) */
  processes(ref: ClusterRef, node: string): Promise<ProcessHost>;
}

export class UnsupportedError extends Error {
  constructor(provider: ProviderKind, what: string) {
    super(`provider "${provider}" does not support ${what}`);
    this.name = 'UnsupportedError';
  }
}
