// End to end on the shared 1+1 kind cluster (cluster-pool.ts): `faultline run stale-iptables-egress`. A real
// chain in the worker's nat table ACCEPTs pod traffic leaving the pod network ahead of flannel's MASQUERADE; the
// detector names the node, the rule and the chain no component owns; the runbook removes it; verify connects from
// a pod on each node to a container on the kind network outside the cluster. Then the fault held and the run
// SIGKILLed: from the pods, egress really times out on the worker while the control plane's pod gets through and
// pod-to-pod traffic works; `faultline recover` puts every node's nat table back and removes the container.
import { afterAll, beforeAll, describe, expect, jest, test } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { natForCompare } from '../../harness/detectors/nat-table.js';
import { assertBuilt, e2eTempDir, expectPassed, runCli, startCli, type CliProcess } from './support.js';
import { sharedCluster } from './cluster-pool.js';

jest.setTimeout(30 * 60_000);

const shared = sharedCluster('one-worker');
const tmp = e2eTempDir('egress');
const { stateDir, env, name } = shared;
const NODES = [`${name}-control-plane`, `${name}-worker`];
const started: CliProcess[] = [];
const before: Record<string, string[]> = {};

const natOf = (node: string) => natForCompare(execFileSync('docker', ['exec', node, 'iptables-save', '-t', 'nat'], { encoding: 'utf8' }));
const kubectl = (...argv: string[]) => execFileSync('docker', ['exec', NODES[0]!, 'kubectl', '--kubeconfig', '/etc/kubernetes/admin.conf', ...argv], { encoding: 'utf8' });
const externals = () => execFileSync('docker', ['ps', '-a', '--filter', 'label=faultline.external-endpoint', '--format', '{{.Names}}'], { encoding: 'utf8' }).trim();

/** The first line of an HTTP answer from the client pod on `node` (empty: no answer within 3 s). */
function fromPodOn(node: string, host: string, port: number): string {
  const pod = kubectl('-n', 'egress-victim', 'get', 'pods', '-l', 'app=egress-client', '--field-selector', `spec.nodeName=${node}`, '-o', 'jsonpath={.items[0].metadata.name}').trim();
  return kubectl('-n', 'egress-victim', 'exec', pod, '--', 'sh', '-c', `printf 'GET /v2/ HTTP/1.0\\r\\n\\r\\n' | nc -w 3 ${host} ${port} | head -1; true`).trim();
}

beforeAll(async () => {
  assertBuilt();
  await shared.acquire();
  for (const n of NODES) before[n] = natOf(n);
});

afterAll(() => shared.release({ started, tmp, recover: true }));

describe('stale-iptables-egress on a real kind cluster', () => {
  test('the stale chain named on the worker, removed by the runbook, egress from every node verified; tables as captured', async () => {
    const reportDir = join(tmp, 'run');
    const r = await runCli(['run', 'stale-iptables-egress', '--cluster', name, '--report-dir', reportDir], env, 15 * 60_000, 'egress-run');
    expectPassed(r, reportDir);
    const sc = JSON.parse(readFileSync(join(reportDir, 'report.json'), 'utf8')).scenarios[0];
    const f = sc.findings.find((x: any) => x.detector === 'pod-egress');
    expect(f.summary).toBe(`pods on node ${NODES[1]} leave the pod network without NAT: rule 1 of POSTROUTING: -j OLD_CNI_POST_nat, which no component owns, takes their traffic before any MASQUERADE`);
    expect(f.evidence).toContain(`node ${NODES[0]}: masqueraded (rule 5 of FLANNEL-POSTRTG: -s 10.244.0.0/16 ! -d 224.0.0.0/4 -m comment --comment "flanneld masq" -j MASQUERADE --random-fully)`);
    expect(sc.remediation.actions).toEqual([`${NODES[1]}: iptables -t nat -D POSTROUTING -j OLD_CNI_POST_nat && iptables -t nat -F OLD_CNI_POST_nat && (iptables -t nat -X OLD_CNI_POST_nat 2>/dev/null || true)`]);
    const verify = sc.stages.find((x: any) => x.name === 'verify').message;
    for (const n of NODES) expect(verify).toMatch(new RegExp(`on ${n} → egress-target:5000/v2/: HTTP/1\\.[01] 200`));
    console.log(`[egress] TTD ${sc.ttdSeconds}s TTR ${sc.ttrSeconds}s`);
    for (const n of NODES) expect(natOf(n)).toEqual(before[n]);
    expect(externals()).toBe('');
  });

  test('held fault, SIGKILL: egress times out only from the worker, pod-to-pod works; recover restores every table', async () => {
    const run = startCli(['run', 'stale-iptables-egress', '--cluster', name], { ...env, FAULTLINE_TEST_HOLD_AFTER_APPLY_MS: '600000' }, 'egress-sigkill');
    started.push(run);
    await run.waitForLine(/^faultline: holding 600000ms after apply/, 10 * 60_000);
    // the real symptom, from the pods themselves
    expect(fromPodOn(NODES[1]!, 'egress-target', 5000)).toBe('');
    // the control plane's pod gets through: up to three tries of 3 s, since a node busy with another file's
    // cluster can take longer than one to resolve and connect (the worker's one timeout above is the symptom)
    let answer = '';
    for (let i = 0; i < 3 && !answer; i++) answer = fromPodOn(NODES[0]!, 'egress-target', 5000);
    expect(answer).toMatch(/^HTTP\/1\.[01] 200/);
    const cpPod = kubectl('-n', 'egress-victim', 'get', 'pods', '-l', 'app=egress-client', '--field-selector', `spec.nodeName=${NODES[0]}`, '-o', 'jsonpath={.items[0].status.podIP}').trim();
    const workerPod = kubectl('-n', 'egress-victim', 'get', 'pods', '-l', 'app=egress-client', '--field-selector', `spec.nodeName=${NODES[1]}`, '-o', 'jsonpath={.items[0].metadata.name}').trim();
    expect(kubectl('-n', 'egress-victim', 'exec', workerPod, '--', 'ping', '-c', '1', '-W', '2', cpPod)).toContain('1 packets received');
    run.child.kill('SIGKILL');
    expect((await run.exited(60_000)).signal).toBe('SIGKILL');
    expect(natOf(NODES[1]!)).not.toEqual(before[NODES[1]!]); // nothing undid it

    const rec = await runCli(['recover'], env, 10 * 60_000, 'recover');
    expect(rec.code).toBe(0);
    expect(rec.stdout).toMatch(/reverted stale-iptables-egress-\d+: chain OLD_CNI_POST_nat and its POSTROUTING jump removed from the nat table of /);
    for (const n of NODES) expect(natOf(n)).toEqual(before[n]);
    expect(externals()).toBe('');
    kubectl('delete', 'namespace', 'egress-victim', '--ignore-not-found', '--wait=true', '--timeout=120s');
  });
});
