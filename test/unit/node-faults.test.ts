// Node-level faults' plan, apply and revert on FAKE nodes (helpers/fake-node.ts): real files and real shell
// scripts in a temp folder per node, a test playing the kubelet. The real kubelet and API server are e2e's.
import { afterEach, beforeEach, describe, expect, test } from '@jest/globals';
import { createHash } from 'node:crypto';
import { parseDocument } from 'yaml';
import type { RunContext } from '../../harness/cluster/context.js';
import { etcdLivenessProbe, LivenessProbeParams, livenessProbeOf } from '../../harness/faults/etcd-liveness-probe.js';
import { ADMISSION_FILE, APISERVER_MANIFEST, psaClusterDefault, PsaDefaultParams } from '../../harness/faults/psa-cluster-default.js';
import { FAKE_CLUSTER, FakeNodeProvider, type FakeNode } from './helpers/fake-node.js';
import { issueCertificate, parseCertificates } from '../../harness/certs/index.js';
import { controlPlaneCert, ControlPlaneCertParams } from '../../harness/faults/control-plane-cert.js';
import { ETCD_MANIFEST } from './fixtures/etcd.js';
import { tempDir } from './helpers/tmp.js';

let tmp: ReturnType<typeof tempDir>;
let provider: FakeNodeProvider;
let cp: FakeNode;
let kubelet: NodeJS.Timeout | undefined;
const logs: string[] = [];
const sha = (s: string) => createHash('sha256').update(s).digest('hex');

beforeEach(() => {
  tmp = tempDir();
  provider = new FakeNodeProvider(tmp.path);
  cp = provider.node('cp');
  logs.length = 0;
});
afterEach(() => {
  clearInterval(kubelet);
  tmp.cleanup();
});

function ctx(kube: unknown = {}): RunContext {
  return { runId: 'r1', cluster: FAKE_CLUSTER, provider, kube: kube as any, log: (m) => void logs.push(m) };
}

/** FAKE kubelet: whenever a static pod manifest changes, "runs" its pod: a new container log with the time now,
 *  and the container's command line in /proc. */
function playKubelet(pod: string, manifest: string, pid: number): void {
  let seen = '';
  kubelet = setInterval(() => {
    if (!cp.exists(manifest)) return;
    const text = cp.read(manifest);
    if (sha(text) === seen) return;
    seen = sha(text);
    cp.write(`/var/log/pods/kube-system_${pod}-cp_${seen.slice(0, 12)}/${pod}/0.log`, `${new Date().toISOString()} stderr F started\n`);
    const c = (parseDocument(text).toJS() as any).spec.containers[0];
    cp.process(pid, c.command ?? [pod]);
  }, 50);
}

describe('etcd-liveness-probe on a fake node', () => {
  const params = LivenessProbeParams.parse({});
  test('plan captures, apply writes the broken probe and waits for the kubelet to run it, revert restores byte for byte', async () => {
    cp.write('/etc/kubernetes/manifests/etcd.yaml', ETCD_MANIFEST);
    const record = await etcdLivenessProbe.plan(ctx(), params);
    expect(record.originalSha256).toBe(sha(ETCD_MANIFEST));
    playKubelet('etcd', '/etc/kubernetes/manifests/etcd.yaml', 300);
    await etcdLivenessProbe.apply(ctx(), params, record);
    expect((livenessProbeOf(cp.read('/etc/kubernetes/manifests/etcd.yaml')) as any).exec.command).toContain('--endpoints=https://127.0.0.1:2380');
    expect(logs.join('\n')).toMatch(/the kubelet runs etcd on cp under the new probe/);
    expect(cp.files('/etc/kubernetes')).toEqual(['manifests/etcd.yaml']); // no temp file left, none in the manifests folder
    await etcdLivenessProbe.apply(ctx(), params, record); // idempotent
    await etcdLivenessProbe.revert(ctx(), record);
    expect(sha(cp.read('/etc/kubernetes/manifests/etcd.yaml'))).toBe(sha(ETCD_MANIFEST));
    await etcdLivenessProbe.revert(ctx(), record); // twice: no change, no error
    expect(logs.at(-1)).toMatch(/already as kubeadm wrote it/);
  });

  test("with the kubelet running from the start, plan names etcd's original pod and revert ends when the kubelet runs that pod again", async () => {
    cp.write('/etc/kubernetes/manifests/etcd.yaml', ETCD_MANIFEST);
    playKubelet('etcd', '/etc/kubernetes/manifests/etcd.yaml', 300);
    const originalPod = `kube-system_etcd-cp_${sha(ETCD_MANIFEST).slice(0, 12)}`;
    for (let i = 0; i < 100 && !cp.exists(`/var/log/pods/${originalPod}`); i++) await new Promise((r) => setTimeout(r, 20));
    const record = await etcdLivenessProbe.plan(ctx(), params);
    expect(record.originalPod).toBe(originalPod);
    await etcdLivenessProbe.apply(ctx(), params, record);
    await new Promise((r) => setTimeout(r, 20)); // the restored pod's log must carry a later time than the restore
    await etcdLivenessProbe.revert(ctx(), record);
    expect(logs.join('\n')).toMatch(/the kubelet restarted etcd on cp from the restored manifest/);
    expect(sha(cp.read('/etc/kubernetes/manifests/etcd.yaml'))).toBe(sha(ETCD_MANIFEST));
  });

  test('apply refuses a manifest changed since plan', async () => {
    cp.write('/etc/kubernetes/manifests/etcd.yaml', ETCD_MANIFEST);
    const record = await etcdLivenessProbe.plan(ctx(), params);
    cp.write('/etc/kubernetes/manifests/etcd.yaml', ETCD_MANIFEST + '# edited by someone\n');
    await expect(etcdLivenessProbe.apply(ctx(), params, record)).rejects.toThrow(/changed since plan/);
  });
});

describe('psa-cluster-default on a fake node', () => {
  const APISERVER = `apiVersion: v1
kind: Pod
metadata: {name: kube-apiserver, namespace: kube-system}
spec:
  containers:
    - name: kube-apiserver
      command: [kube-apiserver, --advertise-address=172.18.0.2, --secure-port=6443]
      volumeMounts:
        - {name: k8s-certs, mountPath: /etc/kubernetes/pki, readOnly: true}
  volumes:
    - {name: k8s-certs, hostPath: {path: /etc/kubernetes/pki, type: DirectoryOrCreate}}
`;
  const params = PsaDefaultParams.parse({ namespace: 'team', deployment: 'web' });
  const deleted: string[] = [];
  const kube = {
    apps: { readNamespacedDeployment: async () => ({ spec: { selector: { matchLabels: { app: 'web' } } } }) },
    core: {
      listNamespacedPod: async ({ labelSelector }: { labelSelector: string }) => ({ items: labelSelector === 'app=web' ? [{ metadata: { name: 'web-1' } }, { metadata: { name: 'web-2' } }] : [] }),
      deleteNamespacedPod: async ({ name }: { name: string }) => void deleted.push(name),
    },
  };

  test('apply writes the config and the flag, waits for the API server to run with it, and deletes the pods; revert undoes it all', async () => {
    cp.write(APISERVER_MANIFEST, APISERVER);
    cp.process(200, ['kube-apiserver', '--advertise-address=172.18.0.2', '--secure-port=6443']);
    const record = await psaClusterDefault.plan(ctx(kube), params);
    expect(record.config.existed).toBe(false);
    expect(JSON.stringify(record)).not.toContain('PRIVATE KEY');
    playKubelet('kube-apiserver', APISERVER_MANIFEST, 200);
    await psaClusterDefault.apply(ctx(kube), params, record);
    expect(cp.read(ADMISSION_FILE)).toContain('enforce: "restricted"');
    expect(cp.read(APISERVER_MANIFEST)).toContain(`--admission-control-config-file=${ADMISSION_FILE}`);
    expect(cp.read('/proc/200/cmdline')).toContain('--admission-control-config-file');
    expect(deleted.sort()).toEqual(['web-1', 'web-2']);
    await psaClusterDefault.revert(ctx(kube), record);
    expect(cp.read(APISERVER_MANIFEST)).toBe(APISERVER);
    expect(cp.read('/proc/200/cmdline')).not.toContain('--admission-control-config-file');
    expect(cp.exists('/var/lib/faultline')).toBe(false); // the file and every folder faultline made
    await psaClusterDefault.revert(ctx(kube), record); // again: nothing to do
    expect(cp.read(APISERVER_MANIFEST)).toBe(APISERVER);
  });

  test('plan refuses an API server that has an admission configuration of its own', async () => {
    cp.write(APISERVER_MANIFEST, APISERVER.replace('--secure-port=6443', '--secure-port=6443, --admission-control-config-file=/etc/kubernetes/adm.yaml'));
    await expect(psaClusterDefault.plan(ctx(kube), params)).rejects.toThrow(/already has --admission-control-config-file/);
  });
});

describe('control-plane-cert on a fake node', () => {
  const PKI = '/etc/kubernetes/pki';
  async function kubeadmPki(): Promise<Record<string, string>> {
    const now = Date.now();
    const ca = await issueCertificate({ commonName: 'etcd-ca', usage: 'ca', notBefore: new Date(now - 3600_000), notAfter: new Date(now + 3650 * 86400_000), keyFormat: 'pkcs1' });
    const leaf = await issueCertificate({ commonName: 'kube-apiserver-etcd-client', usage: 'client', notBefore: new Date(now - 3600_000), notAfter: new Date(now + 365 * 86400_000), issuer: ca, keyFormat: 'pkcs1' });
    const files = { [`${PKI}/etcd/ca.crt`]: ca.certPem, [`${PKI}/etcd/ca.key`]: ca.keyPem, [`${PKI}/apiserver-etcd-client.crt`]: leaf.certPem, [`${PKI}/apiserver-etcd-client.key`]: leaf.keyPem };
    for (const [p, text] of Object.entries(files)) cp.write(p, text);
    return files;
  }

  test('expired: the certificate is really re-issued, the originals kept node-side only, revert restores them and leaves no folder', async () => {
    const files = await kubeadmPki();
    const params = ControlPlaneCertParams.parse({ cert: 'apiserver-etcd-client', mode: 'expired' });
    const record = await controlPlaneCert.plan(ctx(), params);
    expect(JSON.stringify(record)).not.toContain('PRIVATE KEY');
    expect(cp.exists('/var/lib/faultline/cert-backup')).toBe(false); // plan only reads
    await controlPlaneCert.apply(ctx(), params, record);
    const [now] = parseCertificates(cp.read(`${PKI}/apiserver-etcd-client.crt`));
    expect(Date.parse(now!.validTo)).toBeLessThan(Date.now());
    expect(cp.read(`${PKI}/apiserver-etcd-client.key`)).not.toBe(files[`${PKI}/apiserver-etcd-client.key`]);
    expect(cp.files('/var/lib/faultline')).toEqual([`cert-backup/r1/apiserver-etcd-client/apiserver-etcd-client.crt`, `cert-backup/r1/apiserver-etcd-client/apiserver-etcd-client.key`]);
    await controlPlaneCert.revert(ctx(), record);
    for (const [p, text] of Object.entries(files)) expect(`${p} ${sha(cp.read(p))}`).toBe(`${p} ${sha(text)}`);
    expect(cp.exists('/var/lib/faultline')).toBe(false);
    await controlPlaneCert.revert(ctx(), record); // again, with the backup gone: the files already hold the originals
  });
});
