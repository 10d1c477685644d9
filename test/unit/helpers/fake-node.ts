// FAKE nodes for unit tests of node-level faults: each node is a folder. A command sent to a node runs in a real
// local `sh`, with the paths faults touch (/etc/kubernetes, /etc/containerd, /var/lib/faultline, /var/log/pods,
// /proc) rewritten into that folder, and the node tools (curl, ctr, systemctl, journalctl) replaced by stubs the
// test controls. Files, digests and scripts are real; the kubelet, containerd and the API server are not: a test
// plays the kubelet with FakeNode.kubelet(). Nothing here is a cluster.
import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Capabilities, ClusterRef, CreateSpec, ExecResult, NodeRef, Provider } from '../../../harness/cluster/types.js';

const REWRITTEN = ['/etc/kubernetes', '/etc/containerd', '/var/lib/faultline', '/var/log/pods', '/proc'];
const PREFIX = new RegExp(`(^|[\\s'"=(:>;|&])(${REWRITTEN.map((p) => p.replace(/\//g, '\\/')).join('|')})(?=[/\\s'"*;)]|$)`, 'gm');

export class FakeNode {
  readonly root: string;
  readonly bin: string;
  constructor(
    readonly name: string,
    base: string,
  ) {
    this.root = join(base, name);
    this.bin = join(this.root, '.bin');
    for (const d of [...REWRITTEN, '/.bin']) mkdirSync(join(this.root, d), { recursive: true });
    this.stub('curl', 'echo ok');
    this.stub('ctr', 'exit 0');
    this.stub('systemctl', 'exit 0');
    this.stub('journalctl', 'exit 0');
  }

  /** a node path inside the fake */
  path(p: string): string {
    return join(this.root, p);
  }

  rewrite(script: string): string {
    return script.replace(PREFIX, (_m, pre: string, p: string) => `${pre}${this.root}${p}`);
  }

  write(p: string, text: string | Buffer): void {
    mkdirSync(join(this.path(p), '..'), { recursive: true });
    writeFileSync(this.path(p), text);
  }

  read(p: string): string {
    return readFileSync(this.path(p), 'utf8');
  }

  exists(p: string): boolean {
    return existsSync(this.path(p));
  }

  /** replaces a node tool with a shell script body (it gets the tool's arguments as "$@") */
  stub(tool: string, body: string): void {
    const f = join(this.bin, tool);
    writeFileSync(f, `#!/bin/sh\n${body}\n`);
    chmodSync(f, 0o755);
  }

  /** a process as /proc shows it: its command line, NUL-separated */
  process(pid: number, argv: string[]): void {
    this.write(`/proc/${pid}/cmdline`, argv.join('\0') + '\0');
  }

  removeProcess(pid: number): void {
    rmSync(this.path(`/proc/${pid}`), { recursive: true, force: true });
  }

  /** every file under a node folder, relative to it */
  files(p: string): string[] {
    const out: string[] = [];
    const walk = (d: string, rel: string) => {
      if (!existsSync(d)) return;
      for (const e of readdirSync(d, { withFileTypes: true })) e.isDirectory() ? walk(join(d, e.name), `${rel}${e.name}/`) : out.push(`${rel}${e.name}`);
    };
    walk(this.path(p), '');
    return out.sort();
  }

  exec(argv: string[], input?: string): Promise<ExecResult> {
    const args = argv[0] === 'sh' && argv[1] === '-c' ? ['-c', this.rewrite(argv[2] ?? '')] : ['-c', argv.map((a) => `'${this.rewrite(a).replace(/'/g, `'\\''`)}'`).join(' ')];
    return new Promise((resolve) => {
      const child = spawn('sh', args, { env: { PATH: `${this.bin}:/usr/bin:/bin`, HOME: this.root } });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => (stdout += d));
      child.stderr.on('data', (d) => (stderr += d));
      // paths come back as the node would print them
      child.on('close', (code) => resolve({ stdout: stdout.split(this.root).join(''), stderr: stderr.split(this.root).join(''), exitCode: code ?? -1 }));
      // a script that does not read its input may exit before it is written
      child.stdin.on('error', () => {});
      child.stdin.end(input ?? '');
    });
  }
}

/** FAKE provider whose nodes are FakeNodes (the first one the control plane). */
export class FakeNodeProvider implements Provider {
  readonly kind = 'kind' as const;
  readonly nodes_: FakeNode[];
  constructor(base: string, names = ['cp']) {
    this.nodes_ = names.map((n) => new FakeNode(n, base));
  }
  node(name: string): FakeNode {
    const n = this.nodes_.find((x) => x.name === name);
    if (!n) throw new Error(`no fake node ${name}`);
    return n;
  }
  capabilities(): Capabilities {
    return { nodeExec: true, nodeExecWithoutApi: true, hostPid: false, kubeadm: true, create: false };
  }
  async preflight() {
    return { ok: true };
  }
  async create(_spec: CreateSpec): Promise<ClusterRef> {
    throw new Error('fake nodes are not created');
  }
  async delete() {}
  async list() {
    return ['fake'];
  }
  async kubeconfig() {
    return '/fake/kubeconfig';
  }
  async nodes(): Promise<NodeRef[]> {
    return this.nodes_.map((n, i) => ({ name: n.name, roles: i === 0 ? ['control-plane'] : ['worker'] }));
  }
  exec(_ref: ClusterRef, node: string, argv: string[], opts?: { input?: string }): Promise<ExecResult> {
    return this.node(node).exec(argv, opts?.input);
  }
  async loadImages(_ref: ClusterRef, images: string[]) {
    return { loaded: [], skipped: images };
  }
  async hostPid() {
    return undefined;
  }  async processes(): Promise<never> {
    throw new Error('FAKE provider: no node processes');
  }

}

export const FAKE_CLUSTER: ClusterRef = { provider: 'kind', name: 'fake', context: 'kind-fake', kubeconfigPath: '/fake/kubeconfig', createdByFaultline: true };
