// End to end on the shared single-node cluster (cluster-pool.ts: from `faultline cluster up`, single.yaml, proven
// clean before this file gets it): `faultline run
// stale-certs-control-plane` really expires the API server's etcd client certificate on the control-plane node
// (etcd rejects it, the API server goes down), detects it from the node, renews it with kubeadm and reverts the
// original bytes. Then a run killed with SIGKILL while the fault is applied, and `faultline recover`. Checks
// TTD/TTR in the report, that no report, journal or log holds key material, and that the certificate and key
// files hold exactly their original bytes (sha256 on the node before and after).
import { afterAll, beforeAll, describe, expect, jest, test } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { assertBuilt, e2eTempDir, runCli, startCli, waitFor, type CliProcess, expectPassed } from './support.js';
import { sharedCluster } from './cluster-pool.js';

jest.setTimeout(40 * 60_000);

const shared = sharedCluster('single');
const tmp = e2eTempDir('certs-cp');
const { stateDir, env, name } = shared;
const NODE = `${name}-control-plane`;
const PKI = '/etc/kubernetes/pki';
const FILES = [`${PKI}/apiserver-etcd-client.crt`, `${PKI}/apiserver-etcd-client.key`];
// keys on the node before the runs: the certificate's own, and the CA keys it signs with; the SIGKILL test adds
// the key the fault generated, read while that fault is in place
const KEYS = [`${PKI}/apiserver-etcd-client.key`, `${PKI}/etcd/ca.key`, `${PKI}/ca.key`, `${PKI}/apiserver-kubelet-client.key`];
const started: CliProcess[] = [];
let original: Record<string, string> = {};
let keyLines: string[] = [];

function onNode(...argv: string[]): string {
  return execFileSync('docker', ['exec', NODE, ...argv], { encoding: 'utf8' });
}

function sha256s(): Record<string, string> {
  return Object.fromEntries(onNode('sha256sum', ...FILES).trim().split('\n').map((l) => l.split(/\s+/).reverse() as [string, string]));
}

/** base64 lines of the private keys (each 64 characters of key bytes) */
function keyBodies(): string[] {
  return KEYS.flatMap((k) => onNode('cat', k).split('\n').filter((l) => l.length >= 40 && !l.startsWith('-----')));
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true }).filter((d) => d.isFile()).map((d) => join(d.parentPath ?? (d as any).path, d.name));
}

function expectNoKeyMaterial(texts: Array<[string, string]>): void {
  for (const [what, text] of texts) {
    expect(`${what}: PRIVATE KEY ${text.includes('PRIVATE KEY')}`).toBe(`${what}: PRIVATE KEY false`);
    const leaked = keyLines.filter((l) => text.includes(l));
    expect(`${what}: ${leaked.length} key lines`).toBe(`${what}: 0 key lines`);
  }
}

async function readyz(): Promise<string> {
  return onNode('sh', '-c', 'curl -sk -m 5 https://127.0.0.1:6443/readyz || true').trim();
}

beforeAll(async () => {
  assertBuilt();
  await shared.acquire();
  original = sha256s();
  keyLines = keyBodies();
  expect(keyLines.length).toBeGreaterThan(40);
});

afterAll(() => shared.release({ started, tmp }));

describe('stale-certs-control-plane on a real kind cluster', () => {
  test('the run detects the expired etcd client certificate from the node, renews it and restores the original bytes', async () => {
    const reportDir = join(tmp, 'report');
    const r = await runCli(['run', 'stale-certs-control-plane', '--cluster', name, '--keep', '--report-dir', reportDir], env, 30 * 60_000, 'certs-run');
    expectPassed(r, reportDir);
    const report = JSON.parse(readFileSync(join(reportDir, 'report.json'), 'utf8'));
    const sc = report.scenarios.find((s: any) => s.id === 'stale-certs-control-plane');
    expect(sc.status).toBe('passed');
    expect(typeof sc.ttdSeconds).toBe('number');
    expect(typeof sc.ttrSeconds).toBe('number');
    expect(sc.ttdSeconds).toBeLessThan(sc.standardAlert.waitSeconds);
    const f = sc.findings.find((x: any) => x.detector === 'control-plane-certs');
    const text = [f.summary, ...f.evidence].join('\n');
    expect(text).toMatch(/apiserver-etcd-client\.crt on \S+ is expired on/);
    expect(text).toContain('alert certificate expired');
    expect(text).toMatch(/etcd log .*x509: certificate has expired or is not yet valid/);
    expect(sc.remediation.actions.join('\n')).toContain('kubeadm certs renew apiserver-etcd-client');
    console.log(`[certs-control-plane] TTD ${sc.ttdSeconds}s TTR ${sc.ttrSeconds}s`);

    // revert put back exactly the bytes kubeadm wrote, and removed its node-side copy
    expect(sha256s()).toEqual(original);
    expect(onNode('sh', '-c', 'ls -A /var/lib/faultline/cert-backup 2>/dev/null || true').trim()).toBe('');
    await waitFor('kube-apiserver ready', 5 * 60_000, async () => (await readyz()) === 'ok');

    const journals = filesUnder(join(stateDir, 'journal'));
    expect(journals.length).toBeGreaterThan(0);
    expectNoKeyMaterial([
      ...filesUnder(reportDir).map((p) => [p, readFileSync(p, 'utf8')] as [string, string]),
      ...journals.map((p) => [p, readFileSync(p, 'utf8')] as [string, string]),
      ['stdout', r.stdout],
      ['stderr', r.stderr],
    ]);
    // the journal holds paths and digests of the originals
    const entry = JSON.parse(readFileSync(join(stateDir, 'journal', `${report.runId}.json`), 'utf8')).entries.find((e: any) => e.faultType === 'control-plane-cert');
    expect(entry.record.files.map((x: any) => [x.path, x.sha256])).toEqual(FILES.map((p) => [p, original[p]]));
  });

  test('SIGKILL while the expired certificate is in place: recover restores the original bytes and the API server', async () => {
    const holdEnv = { ...env, FAULTLINE_TEST_HOLD_AFTER_APPLY_MS: '600000' };
    const run = startCli(['run', 'stale-certs-control-plane', '--cluster', name, '--keep'], holdEnv, 'certs-sigkill');
    started.push(run);
    await run.waitForLine(/^faultline: holding 600000ms after apply/, 10 * 60_000);
    expect(sha256s()[FILES[0]!]).not.toBe(original[FILES[0]!]);
    const staleKey = onNode('cat', FILES[1]!).split('\n').filter((l) => l.length >= 40 && !l.startsWith('-----'));
    expect(staleKey.length).toBeGreaterThan(0);
    expect(staleKey.some((l) => keyLines.includes(l))).toBe(false); // a new key, not the original
    keyLines.push(...staleKey);
    run.child.kill('SIGKILL');
    expect((await run.exited(60_000)).signal).toBe('SIGKILL');
    expect(sha256s()[FILES[0]!]).not.toBe(original[FILES[0]!]); // nothing undid it

    const rec = await runCli(['recover'], env, 10 * 60_000, 'recover');
    expect(rec.code).toBe(0);
    expect(rec.stdout).toMatch(/reverted stale-certs-control-plane-1: .*apiserver-etcd-client\.crt .*restored from the node-side copy/);
    expect(sha256s()).toEqual(original);
    await waitFor('kube-apiserver ready after recover', 6 * 60_000, async () => (await readyz()) === 'ok');
    expectNoKeyMaterial([
      ['recover stdout', rec.stdout],
      ['recover stderr', rec.stderr],
      ['killed run stderr', run.stderr()],
      ...filesUnder(join(stateDir, 'journal')).map((p) => [p, readFileSync(p, 'utf8')] as [string, string]),
    ]);
    // the node-side copy of the key, and the folders faultline made for it, are gone
    expect(onNode('sh', '-c', 'if [ -e /var/lib/faultline ]; then echo present; else echo absent; fi').trim()).toBe('absent');
    const again = await runCli(['recover'], env, 2 * 60_000, 'recover-2');
    expect(again.stdout).toBe('nothing to recover\n');
  });
});
