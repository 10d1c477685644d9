// The registry-outage pieces that need no cluster: containerd hosts.toml semantics (order, override_path, server),
// the registry-mirror detector's analysis on a fixture snapshot (node probes written by hand, as a node would
// answer during the outage), the runbook's fixes, and the scenario files loading with their set-up.
import { describe, expect, test } from '@jest/globals';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../../harness/core/errors.js';
import { tempDir } from './helpers/tmp.js';
import {
  hasHeaderTables,
  apiRoot,
  manifestUrl,
  parseHostsToml,
  parseImageRef,
  probeOutcome,
  renderDirectHosts,
  renderMirrorHosts,
  withEndpointReplaced,
} from '../../harness/cluster/containerd-hosts.js';
import { analyzeRegistry, fallbacks, pullFailures, type NodeRegistryView, type RegistrySnapshot } from '../../harness/detectors/registry-mirror.js';
import { qualifiedImage } from '../../harness/faults/registry-mirror-outage.js';
import { fixesFor } from '../../harness/runbooks/registry-mirror-fallback.js';
import { builtinRegistries } from '../../harness/engine/registries.js';
import { repoRoot } from '../../harness/core/paths.js';
import { loadScenario } from '../../harness/engine/scenario-loader.js';

const MIRROR = 'http://10.96.77.77:5000';
const UP = 'http://faultline-docker-io:5000';
const BROKEN = renderMirrorHosts({ mirror: MIRROR, fallback: `${UP}/v2/docker.io`, fallbackOverridePath: true });
const WORKING = renderMirrorHosts({ mirror: MIRROR, fallback: UP });
const REF = parseImageRef('docker.io/library/registry:2');

describe('containerd hosts.toml', () => {
  test('image references normalize like the CRI does', () => {
    expect(parseImageRef('registry:2')).toEqual({ registry: 'docker.io', repository: 'library/registry', reference: '2' });
    expect(parseImageRef('docker.io/faultline/operator:v1')).toEqual({ registry: 'docker.io', repository: 'faultline/operator', reference: 'v1' });
    expect(parseImageRef('localhost:5000/a/b')).toEqual({ registry: 'localhost:5000', repository: 'a/b', reference: 'latest' });
    expect(parseImageRef('quay.io/ceph/ceph@sha256:abc')).toEqual({ registry: 'quay.io', repository: 'ceph/ceph', reference: 'sha256:abc' });
    expect(qualifiedImage('registry:2')).toBe('docker.io/library/registry:2');
  });

  test('hosts in the order written, then the server; override_path keeps the path as the API root', () => {
    const eps = parseHostsToml(BROKEN, 'docker.io');
    expect(eps.map((e) => [e.role, e.url, e.overridePath])).toEqual([
      ['host', MIRROR, false],
      ['host', `${UP}/v2/docker.io`, true],
      ['server', `${UP}/v2/docker.io`, true],
    ]);
    expect(manifestUrl(eps[0]!, REF)).toBe(`${MIRROR}/v2/library/registry/manifests/2`);
    // the incident's mistake: the fallback's root is taken as written, a path the upstream does not serve
    expect(manifestUrl(eps[1]!, REF)).toBe(`${UP}/v2/docker.io/library/registry/manifests/2`);
    expect(apiRoot({ url: `${UP}/v2`, overridePath: false })).toBe(`${UP}/v2`);
    expect(manifestUrl(parseHostsToml(WORKING, 'docker.io')[1]!, REF)).toBe(`${UP}/v2/library/registry/manifests/2`);
  });

  test('without a server line the default server is used (registry-1.docker.io for docker.io)', () => {
    const eps = parseHostsToml(`[host."${MIRROR}"]\n  capabilities = ["pull"]\n`, 'docker.io');
    expect(eps.at(-1)).toMatchObject({ role: 'server', url: 'https://registry-1.docker.io' });
    expect(parseHostsToml(renderDirectHosts(UP), 'docker.io').map((e) => e.url)).toEqual([UP, UP]);
  });

  test('replacing the broken fallback keeps the mirror first and drops override_path', () => {
    const fixed = withEndpointReplaced(BROKEN, 'docker.io', `${UP}/v2/docker.io`, UP);
    expect(parseHostsToml(fixed, 'docker.io').map((e) => [e.url, e.overridePath])).toEqual([
      [MIRROR, false],
      [UP, false],
      [UP, false],
    ]);
  });

  test('probe outcomes name curl failures', () => {
    expect(probeOutcome(404, 0)).toBe('HTTP 404');
    expect(probeOutcome(0, 7)).toBe('connection refused');
    expect(probeOutcome(0, 28)).toBe('timed out');
  });
});

// ---- detector, on a snapshot as the nodes answer during the outage (fixture, not a cluster) ----

function outageView(node: string, brokenFallback = true): NodeRegistryView {
  const eps = parseHostsToml(brokenFallback ? BROKEN : WORKING, 'docker.io');
  return {
    node,
    path: '/etc/containerd/certs.d/docker.io/hosts.toml',
    endpoints: eps.map((e, i) => {
      const url = manifestUrl(e, REF);
      if (i === 0) return { ...e, probe: { url, status: 0, outcome: 'connection refused' } };
      if (!brokenFallback) return { ...e, probe: { url, status: 200, outcome: 'HTTP 200' } };
      return {
        ...e,
        probe: { url, status: 404, outcome: 'HTTP 404' },
        standard: { url: `${UP}/v2/library/registry/manifests/2`, status: 200, outcome: 'HTTP 200' },
      };
    }),
  };
}

const rawPods = [
  {
    metadata: { namespace: 'registry-outage', name: 'mirror-abc', labels: { app: 'mirror' } },
    spec: { nodeName: 'w2', containers: [{ image: 'docker.io/library/registry:2' }] },
    status: {
      containerStatuses: [
        { name: 'registry', image: 'docker.io/library/registry:2', state: { waiting: { reason: 'ImagePullBackOff', message: 'Back-off pulling image' } } },
      ],
    },
  },
  {
    metadata: { namespace: 'registry-outage', name: 'operator-def', labels: { app: 'operator' } },
    spec: { nodeName: 'w2', containers: [{ image: 'docker.io/faultline/operator:v1' }] },
    status: { containerStatuses: [{ name: 'operator', image: 'docker.io/faultline/operator:v1', state: { waiting: { reason: 'ErrImagePull' } } }] },
  },
  {
    metadata: { namespace: 'kube-system', name: 'fine', labels: {} },
    spec: { nodeName: 'cp', containers: [{ image: 'registry.k8s.io/pause:3.10.1' }] },
    status: { containerStatuses: [{ name: 'x', image: 'registry.k8s.io/pause:3.10.1', state: { running: {} } }] },
  },
];

function snapshot(views: NodeRegistryView[]): RegistrySnapshot {
  return {
    failures: pullFailures(rawPods),
    services: [{ namespace: 'registry-outage', name: 'mirror', urls: [MIRROR, 'https://10.96.77.77:5000'], selector: { app: 'mirror' } }],
    pods: rawPods.map((p) => ({ namespace: p.metadata.namespace, name: p.metadata.name, labels: p.metadata.labels as Record<string, string>, images: p.spec.containers.map((c) => c.image) })),
    registries: { 'docker.io': { image: 'docker.io/library/registry:2', nodes: views } },
    nodeAccess: true,
  };
}

describe('registry-mirror detector', () => {
  test('quiet when nothing fails to pull', () => {
    expect(analyzeRegistry({ failures: [], services: [], pods: [], registries: {}, nodeAccess: true })).toEqual([]);
  });

  test('names the mirror down, the broken fallback per node, and the circular dependency', () => {
    const [f, ...more] = analyzeRegistry(snapshot([outageView('cp'), outageView('w1'), outageView('w2')]));
    expect(more).toEqual([]);
    expect(f!.summary).toMatch(/^mirror http:\/\/10\.96\.77\.77:5000 down \(connection refused\), no working fallback for docker\.io on nodes cp, w1, w2: /);
    expect(f!.summary).toContain(`fallback host and server ${UP}/v2/docker.io (override_path = true) answers HTTP 404 for library/registry:2`);
    expect(f!.summary).toContain(`the same registry serves it at ${UP}/v2/library/registry/manifests/2 (HTTP 200)`);
    expect(f!.summary).toMatch(/circular dependency: the mirror's own image docker\.io\/library\/registry:2 \(pods registry-outage\/mirror-abc\)/);
    expect(f!.resources).toEqual(['registry-outage/Pod/mirror-abc', 'registry-outage/Pod/operator-def']);
    expect(f!.evidence.join('\n')).toContain('pod registry-outage/mirror-abc on w2: ImagePullBackOff docker.io/library/registry:2');
    expect(f!.runbook).toBe('registry-mirror-fallback');
  });

  test('nodes whose fallback works are not blamed; all working means the next retry pulls', () => {
    const [f] = analyzeRegistry(snapshot([outageView('cp'), outageView('w1', false)]));
    expect(f!.summary).toContain('on nodes cp:');
    expect(analyzeRegistry(snapshot([outageView('w1', false), outageView('w2', false)]))).toEqual([]);
  });

  test('without node access the pods are still grouped by registry', () => {
    const [f] = analyzeRegistry({ ...snapshot([]), nodeAccess: false });
    expect(f!.summary).toBe('2 container(s) cannot pull from docker.io: image pulls from docker.io fail: Back-off pulling image');
  });

  test("the kubelet's pull error is classified into a cause and what to change, grouped by registry host", () => {
    const pod = (name: string, image: string, message: string) => ({
      metadata: { namespace: 'team', name, labels: {} },
      spec: { nodeName: 'w1', containers: [{ image }] },
      status: { containerStatuses: [{ name: 'app', image, state: { waiting: { reason: 'ErrImagePull', message } } }] },
    });
    const cases: Array<[string, string, RegExp]> = [
      ['registry.internal.example:5000/app:1', 'failed to resolve reference "registry.internal.example:5000/app:1": dial tcp: lookup registry.internal.example on 10.96.0.10:53: no such host', /registry host registry\.internal\.example does not resolve \(no such host\); to change: the image's registry host/],
      ['10.0.0.9:5000/app:1', 'failed to do request: Head "https://10.0.0.9:5000/v2/app/manifests/1": dial tcp 10.0.0.9:5000: connect: connection refused', /nothing answers at 10\.0\.0\.9:5000 \(connection refused\)/],
      ['quay.io/team/app:1', 'failed to do request: Head "https://quay.io/v2/team/app/manifests/1": dial tcp 3.3.3.3:443: i/o timeout', /connections to quay\.io time out/],
      ['reg.corp:443/app:1', 'failed to do request: Head "https://reg.corp/v2/app/manifests/1": tls: failed to verify certificate: x509: certificate signed by unknown authority', /TLS certificate of reg\.corp:443 is not accepted \(tls: failed to verify certificate: x509: certificate signed by unknown authority\)/],
      ['ghcr.io/team/private:1', 'failed to authorize: failed to fetch anonymous token: unexpected status from GET request: 401 Unauthorized', /ghcr\.io refuses the pull \(not authorised\); to change: the pod's imagePullSecrets/],
      ['docker.io/library/nginx:9.99', 'failed to resolve reference "docker.io/library/nginx:9.99": docker.io/library/nginx:9.99: not found', /docker\.io has no such repository or tag \(docker\.io\/library\/nginx:9\.99\)/],
      ['docker.io/library/redis:7', 'failed to copy: httpReadSeeker: failed open: unexpected status code https://registry-1.docker.io/v2/library/redis/manifests/7: 429 Too Many Requests - Server message: toomanyrequests', /docker\.io rate-limits the pulls/],
    ];
    for (const [image, message, want] of cases) {
      const [f] = analyzeRegistry({ failures: pullFailures([pod('p', image, message)]), services: [], pods: [], registries: {}, nodeAccess: false });
      expect(`${image}: ${f!.rootCause}`).toMatch(want);
    }
  });

  test('a URL that is both the last host and the server is described once', () => {
    expect(fallbacks(outageView('x').endpoints!).map((e) => [e.url, e.alsoServer])).toEqual([[`${UP}/v2/docker.io`, true]]);
  });
});

describe('registry-mirror-fallback runbook', () => {
  test('fixes only the nodes with no working endpoint, to the root their own probe found', () => {
    expect(fixesFor('docker.io', [outageView('cp'), outageView('w1', false)])).toEqual([
      { node: 'cp', path: '/etc/containerd/certs.d/docker.io/hosts.toml', registry: 'docker.io', from: `${UP}/v2/docker.io`, to: UP },
    ]);
  });
});

describe('registry-outage scenarios', () => {
  test('both load, with the upstream set-up, no preloading, and the working one recovering by itself', () => {
    const reg = builtinRegistries();
    const broken = loadScenario(join(repoRoot(), 'scenarios', 'registry-outage-broken-fallback'), reg);
    const working = loadScenario(join(repoRoot(), 'scenarios', 'registry-outage-working-fallback'), reg);
    for (const sc of [broken, working]) {
      expect(sc.victim.preloadImages).toBe(false);
      expect(sc.victim.setup.map((s) => s.type)).toEqual(['registry-upstream']);
      expect(sc.clusterConfigPath).toMatch(/kind-configs\/two-workers\.yaml$/);
    }
    expect(broken.recovery).toBe('runbook');
    expect(working.recovery).toBe('self');
    expect(broken.fault.params).toMatchObject({ fallback: 'broken' });
    expect(working.fault.params).toMatchObject({ fallback: 'working' });
  });
});

describe('registry-outage scenario files with bad input', () => {
  const ID = 'registry-outage-broken-fallback';
  function loadEdited(edit: (text: string) => string): string {
    const tmp = tempDir();
    try {
      const dir = join(tmp.path, ID);
      cpSync(join(repoRoot(), 'scenarios', ID), dir, { recursive: true });
      const file = join(dir, 'scenario.yaml');
      writeFileSync(file, edit(readFileSync(file, 'utf8')));
      loadScenario(dir, builtinRegistries());
    } catch (err) {
      expect(err).toBeInstanceOf(UserError);
      return (err as Error).message;
    } finally {
      tmp.cleanup();
    }
    throw new Error('expected a UserError');
  }

  test('an unknown fallback kind names fault.params.fallback', () => {
    expect(loadEdited((t) => t.replace('fallback: broken', 'fallback: maybe'))).toMatch(/field fault\.params\.fallback/);
  });

  test('an unknown set-up fault and bad set-up params name victim.setup', () => {
    expect(loadEdited((t) => t.replace('- type: registry-upstream', '- type: no-such-setup'))).toMatch(/field victim\.setup\[0\]\.type: unknown fault "no-such-setup"/);
    expect(loadEdited((t) => t.replace('alias: faultline-docker-io', 'alias: "Not A Name"'))).toMatch(/field victim\.setup\[0\]\.params\.alias/);
  });

  test('an unknown recovery mode is refused', () => {
    expect(loadEdited((t) => `${t}recovery: sometimes\n`)).toMatch(/field recovery/);
  });
});

test('hosts.toml with header tables (possible credentials) is recognised, plain ones are not', () => {
  expect(hasHeaderTables('server = "https://r"\n[host."https://m:5000"]\n  capabilities = ["pull"]\n')).toBe(false);
  expect(hasHeaderTables('[host."https://m:5000"]\n  [host."https://m:5000".header]\n    Authorization = "Basic x"\n')).toBe(true);
  expect(hasHeaderTables('[header]\n  x-custom = "1"\n')).toBe(true);
});
