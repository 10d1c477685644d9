// End to end: `faultline run stale-certs-workload-mtls statefulset-env-conflict --parallel 2 --keep` on the shared 1+1
// kind cluster (cluster-pool.ts): both scenarios are of isolation "namespace", so they run at the same time. The CA
// rotation is real (new CA, re-issued certificates, Secrets updated, only some pods restarted), the stale pods
// really fail handshakes under a k6 load over mutual TLS, and the runbook restarts them one by one. Checks TTD/TTR
// and the k6 numbers in the report, that the StatefulSet scenario beside it passed in the same window, that no key
// or Secret value is in any report or the journal, and that revert put back the original Secret bytes (read from
// the kept cluster, compared with the journal's sha256). The namespaces --keep left are deleted afterwards.
import { afterAll, beforeAll, describe, expect, jest, test } from '@jest/globals';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { connect } from '../../harness/cluster/kube.js';
import type { JournalFile } from '../../harness/engine/journal.js';
import type { CaRotationRecord } from '../../harness/faults/mtls-ca-rotation.js';
import { dataDigest } from '../../harness/mtls/pki.js';
import { assertBuilt, e2eTempDir, runCli, type CliResult, expectPassed } from './support.js';
import { sharedCluster } from './cluster-pool.js';

jest.setTimeout(30 * 60_000);

const NS = 'stale-certs-mtls';
const shared = sharedCluster('one-worker');
const tmp = e2eTempDir('certs-mtls');
const reportDir = join(tmp, 'report');
const { env } = shared;
let res: CliResult;
let report: any;
const scenario = (id: string) => report.scenarios.find((s: any) => s.id === id);

/** this run's journal (the shared state dir holds the other files' too) */
function journal(): JournalFile {
  return JSON.parse(readFileSync(join(env.FAULTLINE_STATE_DIR, 'journal', `${report.runId}.json`), 'utf8')) as JournalFile;
}

beforeAll(async () => {
  assertBuilt();
  await shared.acquire();
  res = await runCli(['run', 'stale-certs-workload-mtls', 'statefulset-env-conflict', '--parallel', '2', '--cluster', shared.name, '--keep', '--report-dir', reportDir], env, 25 * 60_000, 'mtls');
  report = JSON.parse(readFileSync(join(reportDir, 'report.json'), 'utf8'));
});

afterAll(() => shared.release({ started: [], tmp }));

describe('faultline run stale-certs-workload-mtls on the shared kind cluster', () => {
  test('passes: stale pods named from the certificates they serve, with the client-side handshake error', () => {
    expectPassed(res, reportDir);
    const sc = scenario('stale-certs-workload-mtls');
    expect(sc.status).toBe('passed');
    expect(typeof sc.ttdSeconds).toBe('number');
    expect(typeof sc.ttrSeconds).toBe('number');
    const f = sc.findings.find((x: any) => x.detector === 'stale-workload-certs');
    const text = [f.summary, ...f.evidence].join('\n');
    expect(text).toMatch(/2 of 4 pod\(s\) serve stale certificates/);
    expect(text).toContain('not signed by the current CA');
    expect(text).toContain('upstream SSL certificate verify error');
    expect(text).toMatch(/node clocks vs the host: .*spread/);
    expect(sc.remediation.actions.filter((a: string) => a.startsWith('restarted '))).toHaveLength(2);
    console.log(`[certs-mtls] TTD ${sc.ttdSeconds}s TTR ${sc.ttrSeconds}s`);
  });

  test('k6 over mutual TLS: clean before, some (not all) requests fail during the fault, none after the fix', () => {
    const load = scenario('stale-certs-workload-mtls').load as Array<{ phase: string; requests: number; failed: number; failureRate: number }>;
    const before = load.find((l) => l.phase === 'before')!;
    const during = load.find((l) => l.phase === 'during')!;
    const after = load.filter((l) => l.phase === 'after').at(-1)!;
    expect(before.requests).toBeGreaterThan(0);
    expect(before.failed).toBe(0);
    expect(during.failed).toBeGreaterThan(0);
    expect(during.failed).toBeLessThan(during.requests);
    expect(after.requests).toBeGreaterThan(0);
    expect(after.failed).toBe(0);
    console.log(`[certs-mtls] load ${load.map((l) => `${l.phase} ${l.failed}/${l.requests}`).join(', ')}`);
  });

  test('the StatefulSet scenario ran alongside on the same cluster: both faults in place at once, both passed', () => {
    const sts = scenario('statefulset-env-conflict');
    const mtls = scenario('stale-certs-workload-mtls');
    expect(sts.status).toBe('passed');
    const stage = (sc: any, name: string) => sc.stages.find((s: any) => s.name === name);
    expect(stage(sts, 'provision').message).toBe(`alongside stale-certs-workload-mtls on cluster ${shared.name} (isolation: namespace)`);
    // each fault went in before the other was reverted
    const injected = (sc: any) => Date.parse(stage(sc, 'inject').endedAt);
    const reverted = (sc: any) => Date.parse(stage(sc, 'revert').startedAt);
    expect(injected(sts)).toBeLessThan(reverted(mtls));
    expect(injected(mtls)).toBeLessThan(reverted(sts));
    const wall = (Date.parse(report.endedAt) - Date.parse(report.startedAt)) / 1000;
    const sum = report.scenarios.reduce((t: number, sc: any) => t + sc.stages.reduce((u: number, s: any) => u + s.durationSeconds, 0), 0);
    console.log(`[certs-mtls] --parallel 2: wall ${wall.toFixed(1)}s, the two scenarios' own times ${sum.toFixed(1)}s; statefulset TTD ${sts.ttdSeconds}s TTR ${sts.ttrSeconds}s`);
  });

  test('revert put back the original Secret bytes and removed its backup', async () => {
    const j = journal();
    const entry = j.entries.find((e) => e.faultType === 'mtls-ca-rotation')!;
    expect(entry.state).toBe('reverted');
    const rec = entry.record as CaRotationRecord;
    expect(rec.secrets.map((s) => s.name).sort()).toEqual(['backend-tls', 'frontend-tls', 'mtls-ca', 'probe-client-tls']);
    const kube = connect(j.cluster);
    for (const want of rec.secrets) {
      const s = await kube.core.readNamespacedSecret({ name: want.name, namespace: NS });
      expect(dataDigest(s.data)).toBe(want.sha256);
    }
    const left = await kube.core.listNamespacedSecret({ namespace: NS });
    expect(left.items.map((s) => s.metadata!.name).filter((n) => n!.startsWith('faultline-backup-'))).toEqual([]);
  });

  test('no private key, certificate body or Secret value in any report, the journal or the output', async () => {
    const j = journal();
    const kube = connect(j.cluster);
    const values: string[] = [];
    for (const s of (await kube.core.listNamespacedSecret({ namespace: NS })).items) {
      for (const v of Object.values(s.data ?? {})) {
        values.push(v.slice(0, 64));
        // every line of the decoded PEM body (keys and certificates alike)
        values.push(...Buffer.from(v, 'base64').toString('utf8').split('\n').filter((l) => l.length >= 40));
      }
    }
    expect(values.length).toBeGreaterThan(10);
    const texts = [
      ...readdirSync(reportDir).map((f) => readFileSync(join(reportDir, f), 'utf8')),
      JSON.stringify(j),
      res.stdout,
      res.stderr,
    ];
    for (const t of texts) {
      expect(t).not.toContain('PRIVATE KEY');
      expect(t).not.toContain('-----BEGIN');
      for (const v of values) expect(t.includes(v)).toBe(false);
    }
  });
});
