// kind provider: clusters are Docker containers made by the `kind` binary; nodes are reached with docker exec.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { describeMissing, findBinary } from './binaries.js';
import { LocalProcessHost, type ProcessHost } from './process-host.js';
import { dockerExec, hostPidInContainer, imageExists, partitionLocalImages } from './docker-node.js';
import { kubeconfigPathFor } from './naming.js';
import { forgedKubernetesVersion, resolveNodeImage } from './node-image.js';
import { run as defaultRun, type Runner } from './process.js';
import { createOwned, forgetOwned } from './ownership.js';
import { waitClusterReady } from './ready.js';
import type { Capabilities, ClusterRef, CreateSpec, ExecResult, LoadedImages, NodeRef, Preflight, Provider } from './types.js';

export interface KindOptions {
  run?: Runner;
  kindPath?: string;
  dockerPath?: string;
  kubernetesVersion?: string;
  log?(msg: string): void;
  /** how a new cluster is waited for until it takes workloads (default waitClusterReady) */
  waitReady?: typeof waitClusterReady;
}

const CREATE_TIMEOUT_MS = 20 * 60_000;

export class KindProvider implements Provider {
  readonly kind = 'kind' as const;
  private readonly run: Runner;
  private readonly log: (msg: string) => void;

  constructor(private readonly opts: KindOptions = {}) {
    this.run = opts.run ?? defaultRun;
    this.log = opts.log ?? (() => {});
  }

  capabilities(): Capabilities {
    return { nodeExec: true, nodeExecWithoutApi: true, hostPid: true, kubeadm: true, create: true };
  }

  private kindBin(): string {
    const p = this.opts.kindPath ?? findBinary('kind', 'FAULTLINE_KIND')?.path;
    if (!p) throw new Error(`${describeMissing('kind', 'FAULTLINE_KIND')}`);
    return p;
  }

  private dockerBin(): string {
    const p = this.opts.dockerPath ?? findBinary('docker', 'FAULTLINE_DOCKER')?.path;
    if (!p) throw new Error(describeMissing('docker', 'FAULTLINE_DOCKER'));
    return p;
  }

  async preflight(): Promise<Preflight> {
    const kind = this.opts.kindPath ?? findBinary('kind', 'FAULTLINE_KIND')?.path;
    if (!kind) return { ok: false, reason: `${describeMissing('kind', 'FAULTLINE_KIND')}; install kind or set FAULTLINE_KIND` };
    const docker = this.opts.dockerPath ?? findBinary('docker', 'FAULTLINE_DOCKER')?.path;
    if (!docker) return { ok: false, reason: `${describeMissing('docker', 'FAULTLINE_DOCKER')}; install Docker` };
    const info = await this.run([docker, 'info', '--format', '{{.ServerVersion}}'], { reject: false, timeoutMs: 15_000 }).catch(
      (e: Error) => ({ exitCode: 1, stderr: e.message, stdout: '' }),
    );
    if (info.exitCode !== 0) return { ok: false, reason: 'the Docker daemon is not reachable; start dockerd' };
    return { ok: true };
  }

  async create(spec: CreateSpec): Promise<ClusterRef> {
    const kind = this.kindBin();
    const docker = this.dockerBin();
    const choice = await resolveNodeImage({
      explicit: spec.image,
      kubernetesVersion: this.opts.kubernetesVersion ?? forgedKubernetesVersion(),
      imageExists: (ref) => imageExists(this.run, docker, ref),
    });
    // one place for each line: the caller's progress when it follows this create, else the provider's log
    const say = (m: string) => (spec.onProgress ?? this.log)(m);
    say(`node image: ${choice.image ?? "kind's default"} (${choice.reason})`);
    const kubeconfigPath = kubeconfigPathFor('kind', spec.name);
    mkdirSync(dirname(kubeconfigPath), { recursive: true });
    const argv = [kind, 'create', 'cluster', '--name', spec.name, '--kubeconfig', kubeconfigPath, '--wait', '0s'];
    if (spec.configPath) argv.push('--config', spec.configPath);
    if (choice.image) argv.push('--image', choice.image);
    const ref: ClusterRef = {
      provider: 'kind',
      name: spec.name,
      context: `kind-${spec.name}`,
      kubeconfigPath,
      createdByFaultline: true,
      ...(choice.image ? { nodeImage: choice.image } : {}),
    };
    const started = Date.now();
    await createOwned(this, ref, async () => {
      await this.run(argv, { timeoutMs: CREATE_TIMEOUT_MS, signal: spec.signal, onStderrLine: (l) => spec.onProgress?.(l) });
      const waited = await (this.opts.waitReady ?? waitClusterReady)(ref, { ...(spec.signal ? { signal: spec.signal } : {}), onProgress: say });
      say(`cluster ${ref.name} ready in ${Math.round((Date.now() - started) / 100) / 10}s (every node and component pod Ready, CoreDNS answering; ${waited}s of it after kind returned)`);
    }, say);
    return ref;
  }

  async delete(name: string): Promise<void> {
    await this.run([this.kindBin(), 'delete', 'cluster', '--name', name], { timeoutMs: 5 * 60_000 });
    forgetOwned('kind', name);
  }

  async list(): Promise<string[]> {
    const res = await this.run([this.kindBin(), 'get', 'clusters'], { timeoutMs: 30_000 });
    return parseLines(res.stdout).filter((l) => !/^No kind clusters found/.test(l));
  }

  async kubeconfig(ref: ClusterRef): Promise<string> {
    if (existsSync(ref.kubeconfigPath)) return ref.kubeconfigPath;
    const res = await this.run([this.kindBin(), 'get', 'kubeconfig', '--name', ref.name], { timeoutMs: 30_000 });
    mkdirSync(dirname(ref.kubeconfigPath), { recursive: true });
    writeFileSync(ref.kubeconfigPath, res.stdout + '\n', { mode: 0o600 });
    return ref.kubeconfigPath;
  }

  async nodes(ref: ClusterRef): Promise<NodeRef[]> {
    // what `kind get nodes` lists (containers labelled with the cluster's name), with each one's role, in one call
    // instead of `kind get nodes` and a `docker inspect` per node
    const res = await this.run(
      [this.dockerBin(), 'ps', '-a', '--filter', `label=io.x-k8s.kind.cluster=${ref.name}`, '--format', '{{.Names}}\t{{.Label "io.x-k8s.kind.role"}}'],
      { timeoutMs: 30_000 },
    );
    return parseLines(res.stdout)
      .map((l) => l.split('\t'))
      .filter(([name]) => !!name)
      .sort(([a], [b]) => a!.localeCompare(b!))
      .map(([name, role]) => ({ name: name!, roles: role?.trim() ? [role.trim()] : [], containerId: name! }));
  }

  exec(_ref: ClusterRef, node: string, argv: string[], opts?: { input?: string; timeoutMs?: number }): Promise<ExecResult> {
    // kind names each node container after the node
    return dockerExec(this.run, this.dockerBin(), node, argv, opts);
  }

  async loadImages(ref: ClusterRef, images: string[]): Promise<LoadedImages> {
    const docker = this.dockerBin();
    const { present, absent } = await partitionLocalImages(this.run, docker, images);
    if (present.length) {
      await this.run([this.kindBin(), 'load', 'docker-image', '--name', ref.name, ...present], { timeoutMs: 10 * 60_000 });
    }
    return { loaded: present, skipped: absent };
  }

  hostPid(_ref: ClusterRef, node: string, processName: string): Promise<number | undefined> {
    return hostPidInContainer(this.run, this.dockerBin(), node, processName);
  }

  /** the nodes are containers on this machine: their processes are this machine's */
  async processes(): Promise<ProcessHost> {
    return new LocalProcessHost();
  }
}

export function parseLines(text: string): string[] {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
}
