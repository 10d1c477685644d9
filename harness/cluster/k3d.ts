// k3d provider: k3s in Docker. No kubeadm, so scenarios that need kubeadm internals skip on it.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { describeMissing, findBinary } from './binaries.js';
import { LocalProcessHost, type ProcessHost } from './process-host.js';
import { dockerExec, hostPidInContainer, partitionLocalImages } from './docker-node.js';
import { kubeconfigPathFor } from './naming.js';
import { run as defaultRun, type Runner } from './process.js';
import { createOwned, forgetOwned } from './ownership.js';
import { waitClusterReady } from './ready.js';
import type { Capabilities, ClusterRef, CreateSpec, ExecResult, LoadedImages, NodeRef, Preflight, Provider } from './types.js';

export interface K3dOptions {
  run?: Runner;
  k3dPath?: string;
  dockerPath?: string;
  log?(msg: string): void;
}

interface K3dNodeJson {
  name: string;
  role: string;
  runtimeLabels?: Record<string, string>;
}

export class K3dProvider implements Provider {
  readonly kind = 'k3d' as const;
  private readonly run: Runner;
  private readonly log: (msg: string) => void;

  constructor(private readonly opts: K3dOptions = {}) {
    this.run = opts.run ?? defaultRun;
    this.log = opts.log ?? (() => {});
  }

  capabilities(): Capabilities {
    return { nodeExec: true, nodeExecWithoutApi: true, hostPid: true, kubeadm: false, create: true };
  }

  private bin(): string {
    const p = this.opts.k3dPath ?? findBinary('k3d', 'FAULTLINE_K3D')?.path;
    if (!p) throw new Error(describeMissing('k3d', 'FAULTLINE_K3D'));
    return p;
  }

  private docker(): string {
    const p = this.opts.dockerPath ?? findBinary('docker', 'FAULTLINE_DOCKER')?.path;
    if (!p) throw new Error(describeMissing('docker', 'FAULTLINE_DOCKER'));
    return p;
  }

  async preflight(): Promise<Preflight> {
    const k3d = this.opts.k3dPath ?? findBinary('k3d', 'FAULTLINE_K3D')?.path;
    if (!k3d) return { ok: false, reason: `${describeMissing('k3d', 'FAULTLINE_K3D')}; install k3d or set FAULTLINE_K3D` };
    const docker = this.opts.dockerPath ?? findBinary('docker', 'FAULTLINE_DOCKER')?.path;
    if (!docker) return { ok: false, reason: `${describeMissing('docker', 'FAULTLINE_DOCKER')}; install Docker` };
    return { ok: true };
  }

  async create(spec: CreateSpec): Promise<ClusterRef> {
    const kubeconfigPath = kubeconfigPathFor('k3d', spec.name);
    const argv = [
      this.bin(),
      'cluster',
      'create',
      spec.name,
      '--wait',
      '--kubeconfig-update-default=false',
      '--kubeconfig-switch-context=false',
    ];
    if (spec.image) argv.push('--image', spec.image);
    if (spec.configPath) {
      // scenario configs are kind configs; k3d's format differs, so they are not passed on
      const m = `k3d: ignoring kind config ${spec.configPath}`;
      this.log(m);
      spec.onProgress?.(m);
    }
    const ref: ClusterRef = {
      provider: 'k3d',
      name: spec.name,
      context: `k3d-${spec.name}`,
      kubeconfigPath,
      createdByFaultline: true,
      ...(spec.image ? { nodeImage: spec.image } : {}),
    };
    await createOwned(this, ref, async () => {
      await this.run(argv, { timeoutMs: 15 * 60_000, signal: spec.signal, onStderrLine: (l) => spec.onProgress?.(l) });
      await this.kubeconfig(ref);
      await waitClusterReady(ref, { ...(spec.signal ? { signal: spec.signal } : {}), onProgress: (m) => spec.onProgress?.(m) });
    }, this.log);
    return ref;
  }

  async delete(name: string): Promise<void> {
    await this.run([this.bin(), 'cluster', 'delete', name], { timeoutMs: 5 * 60_000 });
    forgetOwned('k3d', name);
  }

  async list(): Promise<string[]> {
    const res = await this.run([this.bin(), 'cluster', 'list', '-o', 'json'], { timeoutMs: 30_000 });
    return (JSON.parse(res.stdout || '[]') as Array<{ name: string }>).map((c) => c.name);
  }

  async kubeconfig(ref: ClusterRef): Promise<string> {
    if (existsSync(ref.kubeconfigPath)) return ref.kubeconfigPath;
    const res = await this.run([this.bin(), 'kubeconfig', 'get', ref.name], { timeoutMs: 30_000 });
    mkdirSync(dirname(ref.kubeconfigPath), { recursive: true });
    writeFileSync(ref.kubeconfigPath, res.stdout + '\n', { mode: 0o600 });
    return ref.kubeconfigPath;
  }

  async nodes(ref: ClusterRef): Promise<NodeRef[]> {
    const res = await this.run([this.bin(), 'node', 'list', '-o', 'json'], { timeoutMs: 30_000 });
    return parseK3dNodes(res.stdout, ref.name);
  }

  exec(_ref: ClusterRef, node: string, argv: string[], opts?: { input?: string; timeoutMs?: number }): Promise<ExecResult> {
    return dockerExec(this.run, this.docker(), node, argv, opts);
  }

  async loadImages(ref: ClusterRef, images: string[]): Promise<LoadedImages> {
    const { present, absent } = await partitionLocalImages(this.run, this.docker(), images);
    if (present.length) await this.run([this.bin(), 'image', 'import', '--cluster', ref.name, ...present], { timeoutMs: 10 * 60_000 });
    return { loaded: present, skipped: absent };
  }

  hostPid(_ref: ClusterRef, node: string, processName: string): Promise<number | undefined> {
    return hostPidInContainer(this.run, this.docker(), node, processName);
  }

  /** the nodes are containers on this machine: their processes are this machine's */
  async processes(): Promise<ProcessHost> {
    return new LocalProcessHost();
  }
}

/** Nodes of one cluster, load balancer excluded (it runs no kubelet). */
export function parseK3dNodes(json: string, cluster: string): NodeRef[] {
  const nodes = JSON.parse(json || '[]') as K3dNodeJson[];
  return nodes
    .filter((n) => n.runtimeLabels?.['k3d.cluster'] === cluster && n.role !== 'loadbalancer')
    .map((n) => ({ name: n.name, roles: [n.role], containerId: n.name }));
}
