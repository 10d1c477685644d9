// End to end on the shared single-node kind cluster (cluster-pool.ts), used by three scenarios in turn. The two admission scenarios run as a CI matrix would: `run A B --shard 1/2` and `--shard 2/2`,
// and `faultline report merge` joins the two real reports.
//
// `faultline run webhook-blocks-deletion`: the storage system's webhook backend really hangs (its process stopped on
// the node), the API server refuses to delete a volume, the detector names the configuration, the rule and the API's
// error, the runbook cuts the rule block, deletes the volume and restarts the backend, which writes its rules again;
// the volumes still in use are the same objects; no cluster-scoped object, journal entry or stopped process is left.
//
// `faultline run psa-cluster-default-restricted` gives the real API server a cluster-wide PodSecurity default of "restricted"
// (an AdmissionConfiguration file on the node and the kube-apiserver flag; the static pod really restarts), the
// victim's ReplicaSet is refused, the detector names the source of the enforcement, the runbook labels the namespace
// at its intended level, and revert restores the manifest byte for byte.
//
// `faultline run cpu-throttling-low-average` puts a 200m CPU limit on a bursty service (the kernel's CFS quota
// really throttles it while k6 sends bursts), the detector names the throttled share, the average against the
// limit and the QoS class from the kubelet's cAdvisor counters, the runbook raises the limit and verify measures
// throttling and k6's p99 again. Then a variant the scenario does not have: a StatefulSet whose sidecar spins at its
// limit, found by `faultline doctor` as a container that needs more CPU. Then doctor: quiet.
import { afterAll, beforeAll, describe, expect, jest, test } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { assertBuilt, e2eTempDir, runCli, startCli, type CliProcess, expectPassed } from './support.js';
import { sharedCluster } from './cluster-pool.js';

jest.setTimeout(40 * 60_000);

const shared = sharedCluster('single');
const tmp = e2eTempDir('single-node');
const { stateDir, env, name } = shared;
const NODE = `${name}-control-plane`;
const MANIFEST = '/etc/kubernetes/manifests/kube-apiserver.yaml';
const started: CliProcess[] = [];
let before = '';

function onNode(...argv: string[]): string {
  return execFileSync('docker', ['exec', NODE, ...argv], { encoding: 'utf8' });
}

beforeAll(async () => {
  assertBuilt();
  await shared.acquire();
  before = onNode('sha256sum', MANIFEST);
});

afterAll(() => shared.release({ started, tmp }));

// the split without durations: equal weights, ties by id (psa first)
const BOTH = ['webhook-blocks-deletion', 'psa-cluster-default-restricted'];

function kubectl(...argv: string[]): string {
  return onNode('kubectl', '--kubeconfig', '/etc/kubernetes/admin.conf', ...argv);
}

describe('webhook-blocks-deletion on a real kind cluster', () => {
  test('deletion refused through the hung webhook, named with its rule and error, fixed the way the seed did', async () => {
    const reportDir = join(tmp, 'shard-2');
    const r = await runCli(['run', ...BOTH, '--shard', '2/2', '--cluster', name, '--report-dir', reportDir], env, 20 * 60_000, 'webhook-run');
    expect(r.stderr).toContain('shard 2/2: webhook-blocks-deletion');
    expectPassed(r, reportDir);
    const report = JSON.parse(readFileSync(join(reportDir, 'report.json'), 'utf8'));
    const sc = report.scenarios[0];
    const f = sc.findings.find((x: any) => x.detector === 'admission-webhooks');
    const text = [f.summary, f.rootCause, ...f.evidence].join('\n');
    expect(text).toContain('ValidatingWebhookConfiguration volume-webhook-validator');
    expect(text).toMatch(/DELETE volumes\.storage\.faultline\.dev: the dry-run deletion of StorageVolume volume-system\/\S+ is refused: HTTP 500: Internal error occurred: failed calling webhook "validator\.storage\.faultline\.dev"/);
    expect(text).toContain('failurePolicy Fail');
    const actions = sc.remediation.actions.join('\n');
    expect(actions).toContain('cut the rule block of volumes.storage.faultline.dev out of ValidatingWebhookConfiguration volume-webhook-validator');
    expect(actions).toContain('deleted StorageVolume volume-system/scratch-1');
    expect(actions).toContain('restarted Deployment volume-system/volume-webhook');
    expect(sc.stages.find((x: any) => x.name === 'verify').message).toContain('the rule block of volumes.storage.faultline.dev is back');
    expect(sc.integrity.map((i: any) => `${i.phase} ${i.ok}`)).toEqual(['write true', 'check true']);
    console.log(`[webhook] TTD ${sc.ttdSeconds}s TTR ${sc.ttrSeconds}s`);
    const journal = JSON.parse(readFileSync(join(stateDir, 'journal', `${report.runId}.json`), 'utf8'));
    expect(journal.entries.map((e: any) => `${e.faultType} ${e.state}`)).toEqual(['cluster-objects reverted', 'victim-namespace reverted', 'webhook-backend-hang reverted']);
    // the CRDs, the webhook configuration and the cluster RBAC went with the run; no process is left stopped
    expect(kubectl('get', 'crd,validatingwebhookconfiguration,clusterrole,clusterrolebinding', '-l', 'app.kubernetes.io/managed-by=faultline', '-o', 'name').trim()).toBe('');
    expect(onNode('sh', '-c', "ps -eo stat=,comm= | awk '$1 ~ /^T/ { print $2 }'").trim()).toBe('');
  });

  test('SIGKILL while the backend is stopped: recover resumes it and deletes the namespace and every cluster-scoped object', async () => {
    const run = startCli(['run', 'webhook-blocks-deletion', '--cluster', name], { ...env, FAULTLINE_TEST_HOLD_AFTER_APPLY_MS: '600000' }, 'webhook-sigkill');
    started.push(run);
    await run.waitForLine(/^faultline: holding 600000ms after apply/, 10 * 60_000);
    const stopped = () => onNode('sh', '-c', "ps -eo stat=,comm= | awk '$1 ~ /^T/ { print $2 }'").trim();
    expect(stopped()).toBe('volume-webhook');
    run.child.kill('SIGKILL');
    expect((await run.exited(60_000)).signal).toBe('SIGKILL');
    expect(stopped()).toBe('volume-webhook'); // nothing undid it

    const rec = await runCli(['recover'], env, 10 * 60_000, 'recover');
    expect(rec.code).toBe(0);
    expect(rec.stdout).toMatch(/reverted webhook-blocks-deletion-2: backend of ValidatingWebhookConfiguration volume-webhook-validator/);
    expect(stopped()).toBe('');
    expect(kubectl('get', 'crd,validatingwebhookconfiguration,clusterrole,clusterrolebinding', '-l', 'app.kubernetes.io/managed-by=faultline', '-o', 'name').trim()).toBe('');
    expect(kubectl('get', 'ns', 'volume-system', '--ignore-not-found', '-o', 'name').trim()).toBe('');
    const again = await runCli(['recover'], env, 2 * 60_000, 'recover-2');
    expect(again.stdout).toBe('nothing to recover\n');
  });
});

describe('psa-cluster-default-restricted on a real kind cluster', () => {
  test('refused by the cluster-wide default, named as such, fixed by the namespace label, reverted byte for byte', async () => {
    const reportDir = join(tmp, 'shard-1');
    const r = await runCli(['run', ...BOTH, '--shard', '1/2', '--cluster', name, '--report-dir', reportDir], env, 30 * 60_000, 'psa-run');
    expect(r.stderr).toContain('shard 1/2: psa-cluster-default-restricted');
    expectPassed(r, reportDir);
    const report = JSON.parse(readFileSync(join(reportDir, 'report.json'), 'utf8'));
    const sc = report.scenarios[0];
    expect(sc.status).toBe('passed');
    const f = sc.findings.find((x: any) => x.detector === 'pod-create-refused');
    const text = [f.summary, f.rootCause, ...f.evidence].join('\n');
    expect(text).toContain('Deployment psa-victim/app cannot create pods');
    expect(text).toContain('violates PodSecurity "restricted:latest"');
    expect(text).toMatch(/namespace psa-victim has no pod-security\.kubernetes\.io\/enforce label, so the cluster-wide default applies: defaults\.enforce "restricted" in \/var\/lib\/faultline\/admission\/pod-security\.yaml/);
    expect(text).toContain('violation runAsNonRoot != true');
    expect(sc.remediation.actions.join('\n')).toContain('labelled namespace psa-victim pod-security.kubernetes.io/enforce=baseline');
    console.log(`[psa] TTD ${sc.ttdSeconds}s TTR ${sc.ttrSeconds}s`);
    // the manifest kubeadm wrote is back, the config file and faultline's folder are gone, the namespace too
    expect(onNode('sha256sum', MANIFEST)).toBe(before);
    expect(onNode('sh', '-c', 'if [ -e /var/lib/faultline ]; then echo present; else echo absent; fi').trim()).toBe('absent');
    const journal = JSON.parse(readFileSync(join(stateDir, 'journal', `${report.runId}.json`), 'utf8'));
    expect(journal.entries.map((e: any) => `${e.faultType} ${e.state}`)).toEqual(['victim-namespace reverted', 'psa-cluster-default reverted']);
  });

  test('report merge joins the two shards: each scenario once, one JUnit; the same shard twice is bad input', async () => {
    const merged = join(tmp, 'merged');
    const m = await runCli(['report', 'merge', join(tmp, 'shard-1'), join(tmp, 'shard-2'), '--report-dir', merged, '-o', 'json'], env, 60_000, 'merge');
    expect(m.code).toBe(0);
    const report = JSON.parse(readFileSync(join(merged, 'report.json'), 'utf8'));
    expect(report.scenarios.map((s: any) => `${s.id} ${s.status}`)).toEqual(['psa-cluster-default-restricted passed', 'webhook-blocks-deletion passed']);
    expect(readFileSync(join(merged, 'junit.xml'), 'utf8')).toMatch(/tests="2"/);
    const twice = await runCli(['report', 'merge', join(tmp, 'shard-1'), join(tmp, 'shard-1')], env, 60_000, 'merge-twice');
    expect(twice.code).toBe(2);
    expect(twice.stderr).toMatch(/scenario psa-cluster-default-restricted is in both/);
  });

});

describe('cpu-throttling-low-average on a real kind cluster', () => {
  test('bursts throttled by the CFS quota at a low average, named from cAdvisor, fixed by a higher limit', async () => {
    const reportDir = join(tmp, 'cpu');
    const r = await runCli(['run', 'cpu-throttling-low-average', '--cluster', name, '--report-dir', reportDir], env, 20 * 60_000, 'cpu-run');
    expectPassed(r, reportDir);
    const report = JSON.parse(readFileSync(join(reportDir, 'report.json'), 'utf8'));
    const sc = report.scenarios[0];
    const f = sc.findings.find((x: any) => x.detector === 'cpu-throttling');
    expect(f.summary).toMatch(/^Deployment realtime-db\/query-engine container query-engine is CPU-throttled in \d+% of its CFS periods while it averages \d+m, \d+% of its 200m limit$/);
    expect(f.rootCause).toContain('exceed the CFS quota of limits.cpu 200m (20 ms of CPU per 100 ms period)');
    expect(f.evidence).toContain('QoS class Burstable: requests.cpu 50m, limits.cpu 200m');
    // the three load phases each measured latency; the one during the fault is the throttled one
    expect(sc.load.map((l: any) => `${l.phase} ${l.probe} ${typeof l.latencyMs?.p99}`)).toEqual(['before k6-bursts number', 'during k6-bursts number', 'after k6-bursts number']);
    expect(sc.remediation.actions[0]).toBe('set limits.cpu 1 on container query-engine of Deployment realtime-db/query-engine (was 200m)');
    expect(sc.stages.find((x: any) => x.name === 'verify').message).toMatch(/under 6 requests every 1000 ms: \d+ of \d+ CFS periods throttled .*k6: \d+ request\(s\), 0 failed, p99 \d+ ms \(budget 200 ms\)/);
    console.log(`[cpu] TTD ${sc.ttdSeconds}s TTR ${sc.ttrSeconds}s; p99 ${sc.load.map((l: any) => `${l.phase} ${l.latencyMs.p99} ms`).join(', ')}`);
    const journal = JSON.parse(readFileSync(join(stateDir, 'journal', `${report.runId}.json`), 'utf8'));
    expect(journal.entries.map((e: any) => `${e.faultType} ${e.state}`)).toEqual(['victim-namespace reverted', 'cpu-limit reverted']);
    expect(kubectl('get', 'ns', 'realtime-db', '--ignore-not-found', '-o', 'name').trim()).toBe('');
  });

  test('a variant: a StatefulSet sidecar spinning at its 100m limit is a container that needs more CPU (doctor)', async () => {
    const ns = 'cpu-variant';
    const sts = {
      apiVersion: 'apps/v1',
      kind: 'StatefulSet',
      metadata: { name: 'ledger', namespace: ns },
      spec: {
        serviceName: 'ledger',
        replicas: 1,
        selector: { matchLabels: { app: 'ledger' } },
        template: {
          metadata: { labels: { app: 'ledger' } },
          spec: {
            terminationGracePeriodSeconds: 1,
            containers: [
              { name: 'ledger', image: 'busybox:latest', imagePullPolicy: 'IfNotPresent', command: ['sleep', '3600'] },
              { name: 'indexer', image: 'busybox:latest', imagePullPolicy: 'IfNotPresent', command: ['sh', '-c', 'while :; do :; done'], resources: { limits: { cpu: '100m' }, requests: { cpu: '100m' } } },
            ],
          },
        },
      },
    };
    kubectl('create', 'namespace', ns);
    try {
      execFileSync('docker', ['exec', '-i', NODE, 'kubectl', '--kubeconfig', '/etc/kubernetes/admin.conf', 'apply', '-f', '-'], { input: JSON.stringify(sts) });
      kubectl('-n', ns, 'rollout', 'status', 'statefulset/ledger', '--timeout=120s');
      // cAdvisor reads each cgroup every 10-15 s: a one-shot doctor judges the container over its life so far
      let out = '';
      for (let i = 0; i < 12 && !out.includes('needs more CPU'); i++) {
        const d = await runCli(['doctor', '--cluster', name, '-n', ns, '-o', 'json'], env, 2 * 60_000, `doctor-cpu-${i}`);
        out = d.stdout;
        if (!out.includes('needs more CPU')) await new Promise((r) => setTimeout(r, 5_000));
      }
      const f = JSON.parse(out).findings.find((x: any) => x.detector === 'cpu-throttling');
      expect(f.summary).toMatch(/^StatefulSet cpu-variant\/ledger container indexer is CPU-throttled in \d+% of its CFS periods/);
      expect(f.rootCause).toContain('it needs more CPU than limits.cpu 100m allows');
      expect(f.rootCause).toContain('QoS class Burstable: requests.cpu 100m, limits.cpu 100m');
    } finally {
      kubectl('delete', 'namespace', ns, '--wait=true', '--timeout=120s');
    }
  });
});

describe('afterwards', () => {
  test('doctor is quiet', async () => {
    const d = await runCli(['doctor', '--cluster', name], env, 2 * 60_000, 'doctor');
    expect(d.stdout).toMatch(/no findings/);
    expect(d.code).toBe(0);
  });
});
