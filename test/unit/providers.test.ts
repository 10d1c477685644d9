// Cluster providers without a cluster: argv built for kind with a FAKE process runner, node image choice,
// host-PID lookup on a FAKE /proc tree, binary lookup, and the real process helper on real `node` children.
import { afterEach, beforeEach, describe, expect, test } from '@jest/globals';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { findBinary } from '../../harness/cluster/binaries.js';
import { findDescendant, readProcTable } from '../../harness/cluster/docker-node.js';
import { K3dProvider, parseK3dNodes } from '../../harness/cluster/k3d.js';
import { KindProvider } from '../../harness/cluster/kind.js';
import { parseEnvFile, resolveNodeImage } from '../../harness/cluster/node-image.js';
import { exitCodeFromStatus } from '../../harness/cluster/pod-exec.js';
import { ProcessError, run, type RunOptions, type Runner } from '../../harness/cluster/process.js';
import { readClusterRecords, recordCluster } from '../../harness/cluster/records.js';
import { ClusterNameTaken } from '../../harness/cluster/ownership.js';
import { ExistingProvider } from '../../harness/cluster/existing.js';
import { injectionAllowed } from '../../harness/engine/safety.js';
import { tempDir } from './helpers/tmp.js';

let tmp: ReturnType<typeof tempDir>;
beforeEach(() => {
  tmp = tempDir();
  process.env.FAULTLINE_STATE_DIR = join(tmp.path, 'state');
  process.env.FAULTLINE_CACHE = join(tmp.path, 'cache');
});
afterEach(() => {
  tmp.cleanup();
  delete process.env.FAULTLINE_STATE_DIR;
  delete process.env.FAULTLINE_CACHE;
});

/** FAKE readiness wait: no cluster exists behind the fake runner */
const noWait = async () => 0;

/** FAKE runner: records argv and answers from a table, never starts a process. */
function fakeRunner(answers: Array<[RegExp, { stdout?: string; exitCode?: number }]>): Runner & { calls: string[][] } {
  const calls: string[][] = [];
  const fn = (async (argv: string[], _opts?: RunOptions) => {
    calls.push(argv);
    const hit = answers.find(([re]) => re.test(argv.join(' ')));
    return { stdout: hit?.[1].stdout ?? '', stderr: '', exitCode: hit?.[1].exitCode ?? 0 };
  }) as Runner & { calls: string[][] };
  fn.calls = calls;
  return fn;
}

describe('node image choice', () => {
  const exists = (set: string[]) => async (ref: string) => set.includes(ref);
  test('explicit, then env, then forged image if built, else kind default; each with a reason', async () => {
    expect(await resolveNodeImage({ explicit: 'a:1', env: { FAULTLINE_NODE_IMAGE: 'b:1' }, kubernetesVersion: 'v1.34.4', imageExists: exists([]) })).toEqual({ image: 'a:1', reason: 'given with --image' });
    expect((await resolveNodeImage({ env: { FAULTLINE_NODE_IMAGE: 'b:1' }, kubernetesVersion: 'v1.34.4', imageExists: exists([]) })).image).toBe('b:1');
    const forged = await resolveNodeImage({ env: {}, kubernetesVersion: 'v1.34.4', imageExists: exists(['faultline/kind-node:v1.34.4']) });
    expect(forged.image).toBe('faultline/kind-node:v1.34.4');
    expect(forged.reason).toMatch(/forged image found locally/);
    const stock = await resolveNodeImage({ env: {}, kubernetesVersion: 'v1.34.4', imageExists: exists([]) });
    expect(stock.image).toBeUndefined();
    expect(stock.reason).toMatch(/not built here; using kind's default/);
  });

  test('versions.env parsing', () => {
    expect(parseEnvFile('# c\nKUBERNETES_VERSION=v1.34.4\n\nX="q"\nbad line\n')).toEqual({ KUBERNETES_VERSION: 'v1.34.4', X: 'q' });
  });
});

describe('kind provider (fake runner)', () => {
  test('create passes name, config, forged image, kubeconfig and --wait 0s, and records the cluster first', async () => {
    const runner = fakeRunner([[/image inspect faultline\/kind-node:v9\.9\.9/, { exitCode: 0 }]]);
    const logs: string[] = [];
    const p = new KindProvider({ run: runner, waitReady: noWait, kindPath: '/x/kind', dockerPath: '/x/docker', kubernetesVersion: 'v9.9.9', log: (m) => logs.push(m) });
    const ref = await p.create({ name: 'faultline-t1', configPath: '/cfg/one-worker.yaml' });
    const create = runner.calls.find((c) => c[1] === 'create')!;
    expect(create).toEqual([
      '/x/kind', 'create', 'cluster', '--name', 'faultline-t1', '--kubeconfig', ref.kubeconfigPath, '--wait', '0s',
      '--config', '/cfg/one-worker.yaml', '--image', 'faultline/kind-node:v9.9.9',
    ]);
    expect(ref).toMatchObject({ provider: 'kind', name: 'faultline-t1', context: 'kind-faultline-t1', createdByFaultline: true, nodeImage: 'faultline/kind-node:v9.9.9' });
    expect(logs[0]).toMatch(/node image: faultline\/kind-node:v9.9.9 \(forged image found locally/);
    expect(readClusterRecords().map((r) => r.name)).toEqual(['faultline-t1']);
    await p.delete('faultline-t1');
    expect(runner.calls.at(-1)).toEqual(['/x/kind', 'delete', 'cluster', '--name', 'faultline-t1']);
    expect(readClusterRecords()).toEqual([]);
  });

  test('without a forged image no --image is passed; exec goes through docker exec', async () => {
    const runner = fakeRunner([[/image inspect/, { exitCode: 1 }]]);
    const p = new KindProvider({ run: runner, waitReady: noWait, kindPath: '/x/kind', dockerPath: '/x/docker', kubernetesVersion: 'v9.9.9' });
    await p.create({ name: 'faultline-t2' });
    expect(runner.calls.find((c) => c[1] === 'create')).not.toContain('--image');
    const ref = { provider: 'kind' as const, name: 'faultline-t2', context: 'kind-faultline-t2', kubeconfigPath: '/k', createdByFaultline: true };
    await p.exec(ref, 'faultline-t2-control-plane', ['cat', '/etc/os-release']);
    expect(runner.calls.at(-1)).toEqual(['/x/docker', 'exec', 'faultline-t2-control-plane', 'cat', '/etc/os-release']);
  });

  test('list ignores kind\'s "No kind clusters found."', async () => {
    const p = new KindProvider({ run: fakeRunner([[/get clusters/, { stdout: 'No kind clusters found.' }]]), kindPath: '/x/kind' });
    expect(await p.list()).toEqual([]);
  });
});

describe('host PID lookup (fake /proc)', () => {
  const table = [
    { pid: 100, ppid: 1, comm: 'containerd-shim' },
    { pid: 200, ppid: 100, comm: 'systemd' }, // node container init
    { pid: 250, ppid: 200, comm: 'containerd' },
    { pid: 300, ppid: 250, comm: 'containerd-shim' },
    { pid: 310, ppid: 300, comm: 'etcd' }, // etcd inside a pod inside the node
    { pid: 900, ppid: 1, comm: 'etcd' }, // an etcd outside this node
  ];
  test('finds the descendant of the node container by name, not an outsider', () => {
    expect(findDescendant(table, 200, 'etcd')).toBe(310);
    expect(findDescendant(table, 200, 'kube-apiserver')).toBeUndefined();
    expect(findDescendant([{ pid: 5, ppid: 200, comm: 'kube-scheduler' }], 200, 'kube-controller-manager')).toBeUndefined();
    // the kernel cuts comm to 15 characters: "kube-controller-manager" shows as "kube-controller"
    expect(findDescendant([{ pid: 5, ppid: 200, comm: 'kube-controller' }], 200, 'kube-controller-manager')).toBe(5);
  });
  test('readProcTable reads Name and PPid from status files', () => {
    const root = join(tmp.path, 'proc');
    for (const [pid, ppid, name] of [[1, 0, 'init'], [42, 1, 'etcd']] as const) {
      mkdirSync(join(root, String(pid)), { recursive: true });
      writeFileSync(join(root, String(pid), 'status'), `Name:\t${name}\nState:\tS\nPPid:\t${ppid}\n`);
    }
    mkdirSync(join(root, 'self'));
    expect(readProcTable(root).sort((a, b) => a.pid - b.pid)).toEqual([{ pid: 1, ppid: 0, comm: 'init' }, { pid: 42, ppid: 1, comm: 'etcd' }]);
  });
});

describe('binaries and processes', () => {
  test('lookup order: env override, faultline cache, PATH', () => {
    const make = (p: string) => {
      mkdirSync(join(p, '..'), { recursive: true });
      writeFileSync(p, '#!/bin/sh\n');
      chmodSync(p, 0o755);
      return p;
    };
    const cached = make(join(tmp.path, 'cache', 'bin', 'current', 'kind'));
    const onPath = make(join(tmp.path, 'pathdir', 'kind'));
    const override = make(join(tmp.path, 'other', 'kind'));
    const env = { PATH: join(tmp.path, 'pathdir') };
    expect(findBinary('kind', 'FAULTLINE_KIND', { ...env, FAULTLINE_KIND: override })).toEqual({ path: override, via: 'FAULTLINE_KIND' });
    expect(findBinary('kind', 'FAULTLINE_KIND', env)).toEqual({ path: cached, via: 'faultline cache' });
    process.env.FAULTLINE_CACHE = join(tmp.path, 'empty');
    expect(findBinary('kind', 'FAULTLINE_KIND', env)).toEqual({ path: onPath, via: 'PATH' });
    expect(findBinary('kind', 'FAULTLINE_KIND', { PATH: '/nonexistent' })).toBeUndefined();
  });

  test('run(): output, non-zero exit with argv and stderr tail, timeout', async () => {
    const node = process.execPath;
    expect((await run([node, '-e', 'console.log("hi")'])).stdout).toBe('hi');
    const err = await run([node, '-e', 'console.error("boom"); process.exit(3)']).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProcessError);
    expect((err as ProcessError).exitCode).toBe(3);
    expect((err as ProcessError).message).toMatch(/-e .* exited 3: boom$/);
    expect((await run([node, '-e', 'process.exit(4)'], { reject: false })).exitCode).toBe(4);
    const slow = await run([node, '-e', 'setTimeout(() => {}, 5000)'], { timeoutMs: 200 }).catch((e: unknown) => e);
    expect((slow as ProcessError).timedOut).toBe(true);
    const missing = await run(['/nonexistent/kind', 'get', 'clusters']).catch((e: unknown) => e);
    expect((missing as ProcessError).message).toMatch(/^\/nonexistent\/kind get clusters could not start/);
  });
});

// needs the real k3d binary; skipped with the reason printed when it is not installed
const k3dCheck = await new K3dProvider().preflight();
if (!k3dCheck.ok) console.warn(`skipping k3d preflight test: ${k3dCheck.reason}`);

describe('k3d and existing providers', () => {
  test('k3d node list parsing keeps this cluster, drops the load balancer', () => {
    const json = JSON.stringify([
      { name: 'k3d-a-server-0', role: 'server', runtimeLabels: { 'k3d.cluster': 'a' } },
      { name: 'k3d-a-serverlb', role: 'loadbalancer', runtimeLabels: { 'k3d.cluster': 'a' } },
      { name: 'k3d-b-server-0', role: 'server', runtimeLabels: { 'k3d.cluster': 'b' } },
    ]);
    expect(parseK3dNodes(json, 'a')).toEqual([{ name: 'k3d-a-server-0', roles: ['server'], containerId: 'k3d-a-server-0' }]);
    expect(new K3dProvider().capabilities().kubeadm).toBe(false);
  });

  (k3dCheck.ok ? test : test.skip)('k3d preflight passes where k3d is installed', () => {
    expect(k3dCheck.ok).toBe(true);
  });

  test('existing provider: no node access, no create', async () => {
    const p = new ExistingProvider();
    expect(p.capabilities()).toEqual({ nodeExec: false, nodeExecWithoutApi: false, hostPid: false, kubeadm: false, create: false });
    await expect(p.create()).rejects.toThrow(/does not support creating clusters/);
    await expect(p.exec()).rejects.toThrow(/does not support running commands on nodes/);
  });

  test('safety: only recorded faultline clusters its provider confirms, or contexts allowed by name', async () => {
    const stranger = { provider: 'existing' as const, name: 'prod', context: 'prod', kubeconfigPath: '/k', createdByFaultline: false };
    const kindLists = (names: string[]) => () => ({ kind: 'kind' as const, list: async () => names });
    expect((await injectionAllowed(stranger, [], kindLists([]))).ok).toBe(false);
    expect(await injectionAllowed(stranger, ['prod'], kindLists([]))).toMatchObject({ ok: true, by: 'allow-context' });
    // claiming createdByFaultline without a record in clusters.json is not enough
    expect((await injectionAllowed({ ...stranger, createdByFaultline: true }, [], kindLists([]))).ok).toBe(false);
    const runner = fakeRunner([[/image inspect/, { exitCode: 1 }]]);
    const ref = await new KindProvider({ run: runner, waitReady: noWait, kindPath: '/x/kind', dockerPath: '/x/docker' }).create({ name: 'faultline-mine' });
    writeFileSync(ref.kubeconfigPath, 'apiVersion: v1\n');
    expect(await injectionAllowed(ref, [], kindLists(['faultline-mine']))).toMatchObject({ ok: true, by: 'record' });
    expect(JSON.parse(readFileSync(join(tmp.path, 'state', 'clusters.json'), 'utf8'))[0].name).toBe('faultline-mine');
    // the provider no longer has it (deleted by hand): the record is stale, not a licence
    expect((await injectionAllowed(ref, [], kindLists([]))).why).toMatch(/record of cluster faultline-mine is not trusted: kind has no cluster named faultline-mine/);
  });

  test('safety: a hand-edited record naming a user\'s context does not make it injectable', async () => {
    const users = { provider: 'kind' as const, name: 'dev', context: 'kind-dev', kubeconfigPath: join(tmp.path, 'home-kubeconfig'), createdByFaultline: true };
    writeFileSync(users.kubeconfigPath, 'apiVersion: v1\n');
    recordCluster(users);
    const res = await injectionAllowed(users, [], () => ({ kind: 'kind', list: async () => ['dev'] }));
    expect(res.ok).toBe(false);
    expect(res.why).toMatch(/its kubeconfig .*home-kubeconfig is not one faultline wrote/);
  });
});

describe('creating a cluster as faultline\'s own (fake runner)', () => {
  test('a name that exists and is not ours is refused, with no record written and nothing deleted', async () => {
    const runner = fakeRunner([[/get clusters/, { stdout: 'dev\nfaultline-taken\n' }], [/image inspect/, { exitCode: 1 }]]);
    const p = new KindProvider({ run: runner, waitReady: noWait, kindPath: '/x/kind', dockerPath: '/x/docker' });
    const err = await p.create({ name: 'faultline-taken' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ClusterNameTaken);
    expect((err as ClusterNameTaken).ours).toBe(false);
    expect((err as Error).message).toBe('a cluster named faultline-taken already exists and faultline did not create it');
    expect(readClusterRecords()).toEqual([]);
    expect(runner.calls.some((c) => c[1] === 'create' || c[1] === 'delete')).toBe(false);
  });

  test('a failed create deletes what it left and forgets the record; delete removes the kubeconfig', async () => {
    let listed = 0;
    const calls: string[][] = [];
    const runner = (async (argv: string[]) => {
      calls.push(argv);
      const line = argv.join(' ');
      if (/get clusters/.test(line)) return { stdout: listed++ === 0 ? '' : 'faultline-half\n', stderr: '', exitCode: 0 };
      if (/create cluster/.test(line)) throw new Error('kind create was killed');
      return { stdout: '', stderr: '', exitCode: /image inspect/.test(line) ? 1 : 0 };
    }) as Runner;
    const p = new KindProvider({ run: runner, waitReady: noWait, kindPath: '/x/kind', dockerPath: '/x/docker' });
    await expect(p.create({ name: 'faultline-half' })).rejects.toThrow(/killed/);
    expect(calls.at(-1)).toEqual(['/x/kind', 'delete', 'cluster', '--name', 'faultline-half']);
    expect(readClusterRecords()).toEqual([]);

    const ok = new KindProvider({ run: fakeRunner([[/image inspect/, { exitCode: 1 }]]), waitReady: noWait, kindPath: '/x/kind', dockerPath: '/x/docker' });
    const ref = await ok.create({ name: 'faultline-kc' });
    writeFileSync(ref.kubeconfigPath, 'client-key-data: x\n');
    await ok.delete('faultline-kc');
    expect(existsSync(ref.kubeconfigPath)).toBe(false);
  });
});

describe('pod exec status', () => {
  test('exit codes from the V1Status of an exec', () => {
    expect(exitCodeFromStatus({ status: 'Success' })).toBe(0);
    expect(exitCodeFromStatus({ status: 'Failure', reason: 'NonZeroExitCode', details: { causes: [{ reason: 'ExitCode', message: '2' }] } })).toBe(2);
    expect(exitCodeFromStatus(undefined)).toBe(-1);
  });
});
