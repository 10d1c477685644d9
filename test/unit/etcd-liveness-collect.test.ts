// etcd-liveness-restarts' collector on a FAKE node (helpers/fake-node.ts: real shell scripts in a temp folder,
// ctr, curl and journalctl stubbed) and a FAKE API answering the kubelet's Events. No cluster.
import { afterEach, beforeEach, describe, expect, test } from '@jest/globals';
import { collectEtcdLiveness } from '../../harness/detectors/etcd-liveness-collect.js';
import { analyzeEtcdLiveness } from '../../harness/detectors/etcd-liveness-analysis.js';
import { brokenProbe, LivenessProbeParams, withLivenessProbe } from '../../harness/faults/etcd-liveness-probe.js';
import { FAKE_CLUSTER, FakeNodeProvider, type FakeNode } from './helpers/fake-node.js';
import { ETCD_MANIFEST } from './fixtures/etcd.js';
import { tempDir } from './helpers/tmp.js';

let tmp: ReturnType<typeof tempDir>;
let provider: FakeNodeProvider;
let cp: FakeNode;

beforeEach(() => {
  tmp = tempDir();
  provider = new FakeNodeProvider(tmp.path);
  cp = provider.node('cp');
  const started = new Date(Date.now() - 20_000).toISOString();
  cp.write('/etc/kubernetes/manifests/etcd.yaml', withLivenessProbe(ETCD_MANIFEST, brokenProbe(LivenessProbeParams.parse({}))));
  cp.write('/var/log/pods/kube-system_etcd-cp_new/etcd/0.log', `${started} stderr F {"msg":"serving client traffic"}\n`);
  cp.stub('curl', `echo '{"health":"true","reason":""}'`);
  // the kubelet's journal at its default verbosity: no probe results
  cp.stub('journalctl', 'exit 0');
  // containerd: one running etcd container; the probe's read fails on :2380 and works on :2379 (with the colon: the
  // exec id carries the shell's PID, which may hold the digits 2380)
  cp.stub(
    'ctr',
    `case "$*" in
  *" c ls"*) echo etcd1 ;;
  *" t ls"*) echo "etcd1 42 RUNNING" ;;
  *"task exec"*:2380*) echo "Error: context deadline exceeded"; exit 1 ;;
  *"task exec"*) echo foo; exit 0 ;;
esac`,
  );
});
afterEach(() => tmp.cleanup());

function ctx(events: Array<{ message: string; count: number; lastTimestamp: Date }>) {
  const core = { listNamespacedEvent: async () => ({ items: events }) };
  return { kube: { core } as any, provider, cluster: FAKE_CLUSTER };
}

describe('collectEtcdLiveness', () => {
  test('a probe failure seen only in an Event has the probe run by hand, so the cause is named before the first kill', async () => {
    const snap = await collectEtcdLiveness(ctx([{ message: 'Liveness probe failed: Error: context deadline exceeded', count: 1, lastTimestamp: new Date(Date.now() - 5_000) }]));
    const n = snap.nodes[0]!;
    expect(n.byHand?.exitCode).toBe(1);
    expect(n.clientRead).toEqual({ endpoint: 'https://127.0.0.1:2379', exitCode: 0 });
    const [f] = analyzeEtcdLiveness(snap);
    expect(f!.summary).toContain('is about to be killed by its liveness probe');
    expect(f!.summary).toContain('the probe is wrong, etcd is healthy');
  });

  test('no failure seen yet: the exec probe is run by hand all the same, and a wrong one is named before the kubelet fails it', async () => {
    const snap = await collectEtcdLiveness(ctx([]));
    const n = snap.nodes[0]!;
    expect(n.byHand?.exitCode).toBe(1);
    expect(n.probeFailures).toEqual([]);
    const [f] = analyzeEtcdLiveness(snap);
    expect(f!.summary).toContain('is about to be killed by its liveness probe: the probe fails when run by hand in the running container (the kubelet kills it after 3 failures)');
    expect(f!.evidence).toContain("the probe's command against etcd's client URL https://127.0.0.1:2379: the read succeeds (etcd serves reads)");
  });

  test('an exec probe at the right endpoint passes by hand: nothing is found', async () => {
    cp.write('/etc/kubernetes/manifests/etcd.yaml', withLivenessProbe(ETCD_MANIFEST, brokenProbe(LivenessProbeParams.parse({ endpoint: 'https://127.0.0.1:2379' }))));
    const snap = await collectEtcdLiveness(ctx([]));
    expect(snap.nodes[0]!.byHand?.exitCode).toBe(0);
    expect(snap.nodes[0]!.clientRead).toBeUndefined();
    expect(analyzeEtcdLiveness(snap)).toEqual([]);
  });
});
