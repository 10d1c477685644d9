// End to end, on a real kind cluster built from the node image on this machine (forged, or stock where
// (busybox 1.35 from Debian crashes on `wget -T`, hence `timeout 10 wget`.)
// the machine can pull it): the acceptance checks of the offline forge.
import { afterAll, beforeAll, describe, expect, jest, test } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { KindProvider } from '../../harness/cluster/kind.js';
import { forgedKubernetesVersion } from '../../harness/cluster/node-image.js';
import type { ClusterRef } from '../../harness/cluster/types.js';
import { repoRoot } from '../../harness/core/paths.js';
import { podSpec, waitFor, waitForPodPhase, waitForSystemPods } from './support.js';

jest.setTimeout(20 * 60_000);

const provider = new KindProvider({ log: (m) => process.stderr.write(`[forge-cluster] ${m}\n`) });
const name = `faultline-e2e-forge-${randomBytes(2).toString('hex')}`;
let ref: ClusterRef;
let core: k8s.CoreV1Api;
let kc: k8s.KubeConfig;
const ns = 'default';

beforeAll(async () => {
  ref = await provider.create({ name, configPath: join(repoRoot(), 'kind-configs', 'one-worker.yaml') });
  kc = new k8s.KubeConfig();
  kc.loadFromFile(await provider.kubeconfig(ref));
  core = kc.makeApiClient(k8s.CoreV1Api);
});

afterAll(async () => {
  if (ref && !process.env.FAULTLINE_KEEP_CLUSTER) await provider.delete(name);
});

describe('a 1+1 kind cluster from the forge', () => {
  test('every kube-system pod (and the CNI and storage pods) is Running and Ready', async () => {
    const pods = await waitForSystemPods(core, ['kube-system', 'kube-flannel', 'local-path-storage'], 6 * 60_000);
    const names = pods.map((p) => p.metadata?.name ?? '');
    for (const want of ['etcd-', 'kube-apiserver-', 'kube-controller-manager-', 'kube-scheduler-', 'coredns-', 'kube-proxy-']) {
      expect(names.some((n) => n.startsWith(want))).toBe(true);
    }
    expect(pods.filter((p) => p.metadata?.namespace === 'kube-flannel')).toHaveLength(2);
  });

  test('the API server reports the Kubernetes version the node image was built with', async () => {
    const info = await kc.makeApiClient(k8s.VersionApi).getCode();
    const forged = forgedKubernetesVersion();
    if (ref.nodeImage?.startsWith('faultline/kind-node:')) expect(info.gitVersion).toBe(forged);
    else expect(info.gitVersion).toMatch(/^v1\.\d+\.\d+/);
  });

  test('a busybox pod on the worker resolves a Service name and gets an answer from a pod on the control plane', async () => {
    const nodes = await provider.nodes(ref);
    const cp = nodes.find((n) => n.roles.includes('control-plane'))!.name;
    const worker = nodes.find((n) => n.roles.includes('worker'))!.name;
    const token = randomBytes(8).toString('hex');
    await core.createNamespacedPod({
      namespace: ns,
      body: podSpec('echo', cp, ['sh', '-c', `mkdir -p /www && echo ${token} >/www/index.html && exec httpd -f -p 8080 -h /www`], {
        labels: { app: 'echo' },
      }),
    });
    await core.createNamespacedService({
      namespace: ns,
      body: { metadata: { name: 'echo' }, spec: { selector: { app: 'echo' }, ports: [{ port: 80, targetPort: 8080 }] } },
    });
    await waitForPodPhase(core, ns, 'echo', 'Running', 3 * 60_000);
    await core.createNamespacedPod({
      namespace: ns,
      body: podSpec('client', worker, ['sh', '-c', 'nslookup echo.default.svc.cluster.local && timeout 10 wget -qO- http://echo/'], {
        restartPolicy: 'OnFailure',
      }),
    });
    await waitForPodPhase(core, ns, 'client', 'Succeeded', 3 * 60_000);
    const log = await core.readNamespacedPodLog({ name: 'client', namespace: ns });
    expect(log).toContain(token);
    expect(log).toMatch(/Address:?\s+10\.96\./);
  });

  test('a PVC on the default StorageClass binds and keeps a file across a pod delete', async () => {
    const token = randomBytes(8).toString('hex');
    await core.createNamespacedPersistentVolumeClaim({
      namespace: ns,
      body: { metadata: { name: 'data' }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '64Mi' } } } },
    });
    const withVolume = (pod: k8s.V1Pod): k8s.V1Pod => {
      pod.spec!.volumes = [{ name: 'data', persistentVolumeClaim: { claimName: 'data' } }];
      pod.spec!.containers[0]!.volumeMounts = [{ name: 'data', mountPath: '/data' }];
      return pod;
    };
    await core.createNamespacedPod({
      namespace: ns,
      body: withVolume(podSpec('writer', undefined, ['sh', '-c', `echo ${token} >/data/marker && sync && exec sleep 3600`])),
    });
    await waitForPodPhase(core, ns, 'writer', 'Running', 3 * 60_000);
    const pvc = await core.readNamespacedPersistentVolumeClaim({ name: 'data', namespace: ns });
    expect(pvc.status?.phase).toBe('Bound');
    await core.deleteNamespacedPod({ name: 'writer', namespace: ns, gracePeriodSeconds: 0 });
    await waitFor('writer pod deleted', 2 * 60_000, async () =>
      core.readNamespacedPod({ name: 'writer', namespace: ns }).then(() => false, () => true),
    );
    await core.createNamespacedPod({
      namespace: ns,
      body: withVolume(podSpec('reader', undefined, ['cat', '/data/marker'], { restartPolicy: 'OnFailure' })),
    });
    await waitForPodPhase(core, ns, 'reader', 'Succeeded', 3 * 60_000);
    expect((await core.readNamespacedPodLog({ name: 'reader', namespace: ns })).trim()).toBe(token);
  });
});
