// registry-upstream with `existing: true` (a registry that runs already, no Docker) on FAKE nodes
// (helpers/fake-node.ts): hosts.toml files are real files in a temp folder per node, and the nodes' curl is a stub
// that answers each manifest URL with the status the test gives it. The real registry and containerd are e2e's.
import { afterEach, beforeEach, describe, expect, test } from '@jest/globals';
import type { RunContext } from '../../harness/cluster/context.js';
import { RegistryUpstreamParams, registryUpstream } from '../../harness/faults/registry-upstream.js';
import { FAKE_CLUSTER, FakeNodeProvider } from './helpers/fake-node.js';
import { tempDir } from './helpers/tmp.js';

const HOSTS = '/etc/containerd/certs.d/docker.io/hosts.toml';
const BEFORE = 'server = "https://registry-1.docker.io"\n';
const params = RegistryUpstreamParams.parse({
  existing: true,
  images: [
    { from: 'registry:2', as: 'library/registry:2' },
    { from: 'busybox:1.35', as: 'faultline/operator:v1' },
  ],
});

let tmp: ReturnType<typeof tempDir>;
let provider: FakeNodeProvider;
const logs: string[] = [];
const ctx = (): RunContext => ({ runId: 'r1', cluster: FAKE_CLUSTER, provider, kube: {} as any, log: (m) => void logs.push(m) });

/** every node's curl answers HEAD <url> with `status(url)`; 000 and exit 7 stand for a refused connection */
function registryAnswers(status: (url: string) => number): void {
  const cases = ['library/registry/manifests/2', 'faultline/operator/manifests/v1'].map((path) => {
    const code = status(path);
    return `  *${path}) printf ${String(code).padStart(3, '0')}; exit ${code ? 0 : 7} ;;`;
  });
  for (const n of provider.nodes_) n.stub('curl', `for a; do url=$a; done\ncase "$url" in\n${cases.join('\n')}\n  *) printf 000; exit 6 ;;\nesac`);
}

beforeEach(() => {
  tmp = tempDir();
  provider = new FakeNodeProvider(tmp.path, ['cp', 'w1']);
  for (const n of provider.nodes_) n.write(HOSTS, BEFORE);
  logs.length = 0;
});
afterEach(() => tmp.cleanup());

describe('registry-upstream, existing upstream, on fake nodes', () => {
  test('plan names no container; apply points every node at it once it serves every image; revert puts the files back', async () => {
    registryAnswers(() => 200);
    const record = await registryUpstream.plan(ctx(), params);
    expect(record.container).toBeUndefined();
    expect(record.files.map((f) => f.node)).toEqual(['cp', 'w1']);
    await registryUpstream.apply(ctx(), params, record);
    expect(logs).toContain('existing upstream registry http://faultline-docker-io:5000 serves library/registry:2, faultline/operator:v1 (HTTP 200 from cp)');
    for (const n of provider.nodes_) expect(n.read(HOSTS)).toContain('http://faultline-docker-io:5000');
    await registryUpstream.revert(ctx(), record);
    for (const n of provider.nodes_) expect(n.read(HOSTS)).toBe(BEFORE);
  });

  test('an upstream missing one image is refused before any node points at it', async () => {
    registryAnswers((path) => (path.startsWith('faultline/operator') ? 404 : 200));
    const record = await registryUpstream.plan(ctx(), params);
    await expect(registryUpstream.apply(ctx(), params, record)).rejects.toThrow(
      /^the existing upstream http:\/\/faultline-docker-io:5000 does not serve what the victim pulls \(from cp\): http:\/\/faultline-docker-io:5000\/v2\/faultline\/operator\/manifests\/v1 HTTP 404$/,
    );
    for (const n of provider.nodes_) expect(n.read(HOSTS)).toBe(BEFORE);
  });

  test('an upstream that does not answer is refused the same way, with curl\'s reason', async () => {
    registryAnswers(() => 0);
    const record = await registryUpstream.plan(ctx(), params);
    const err = await registryUpstream.apply(ctx(), params, record).then(() => undefined, (e: Error) => e);
    expect(err?.message).toMatch(/does not serve what the victim pulls \(from cp\): \S+registry\/manifests\/2 [^;]+; \S+operator\/manifests\/v1 /);
    expect(err?.message).not.toMatch(/HTTP/);
    for (const n of provider.nodes_) expect(n.read(HOSTS)).toBe(BEFORE);
  });
});
