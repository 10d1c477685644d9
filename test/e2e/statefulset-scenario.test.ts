// End to end: `faultline run statefulset-env-conflict` as a user runs it, on a new kind cluster the run
// creates (provision) and deletes (teardown). Checks the exit code, the JUnit on stdout, the report files,
// that no Secret value leaks into any of them, and that the cluster is gone afterwards.
// The built CLI is used (`npm run build` first). A cluster left by a failed run is deleted in afterAll
// unless FAULTLINE_KEEP_CLUSTER is set.
import { afterAll, beforeAll, describe, expect, jest, test } from '@jest/globals';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { repoRoot } from '../../harness/core/paths.js';
import { STAGE_ORDER } from '../../harness/core/stages.js';
import { assertBuilt, e2eTempDir, kindClusters, runCli, runCluster, cleanUpRun, type CliResult, expectPassed } from './support.js';

jest.setTimeout(30 * 60_000);

const SCENARIO = join(repoRoot(), 'scenarios', 'statefulset-env-conflict');
const tmp = e2eTempDir('sts');
const reportDir = join(tmp, 'report');
const env = { FAULTLINE_STATE_DIR: join(tmp, 'state') };
let res: CliResult;
let cluster: string | undefined;
let clustersBefore: string[];

/** The values the report must never show: the Secret's data and the literal POSTGRES_PASSWORD, read from the
 *  victim's manifests (plus the incident's literal, in case the manifests ever drift from it). */
function secretValues(): string[] {
  const values = new Set<string>(['not-secure-database-password']);
  for (const f of ['secret.yaml', 'postgresql.yaml']) {
    for (const doc of parseAllDocuments(readFileSync(join(SCENARIO, 'manifests', f), 'utf8'))) {
      const o = doc.toJS() as any;
      if (o?.kind === 'Secret') {
        for (const v of Object.values<string>(o.stringData ?? {})) values.add(v);
        for (const v of Object.values<string>(o.data ?? {})) values.add(Buffer.from(v, 'base64').toString('utf8'));
      }
      for (const c of o?.spec?.template?.spec?.containers ?? []) {
        for (const e of c.env ?? []) if (e.name === 'POSTGRES_PASSWORD' && e.value) values.add(e.value);
      }
    }
  }
  // also their base64 forms, as a Secret's data would carry them
  for (const v of [...values]) values.add(Buffer.from(v).toString('base64'));
  return [...values];
}

beforeAll(async () => {
  assertBuilt();
  clustersBefore = await kindClusters();
  res = await runCli(['run', 'statefulset-env-conflict', '--report-dir', reportDir, '-o', 'junit'], env, 25 * 60_000, 'run');
  cluster = runCluster(res.stderr);
});

afterAll(() => cleanUpRun(cluster, env.FAULTLINE_STATE_DIR, tmp));

describe('faultline run statefulset-env-conflict on a new kind cluster', () => {
  test('exits 0 and prints JUnit XML with one passing testcase on stdout', () => {
    expectPassed(res, reportDir);
    expect(XMLValidator.validate(res.stdout)).toBe(true);
    const xml = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '@_' }).parse(res.stdout);
    const suite = xml.testsuites.testsuite;
    expect(suite).toBeDefined();
    expect(Number(suite['@_tests'])).toBe(1);
    expect(Number(suite['@_failures'])).toBe(0);
    const cases = [suite.testcase].flat();
    expect(cases).toHaveLength(1);
    expect(cases[0]['@_name']).toBe('statefulset-env-conflict');
    expect(cases[0].failure).toBeUndefined();
    expect(cases[0].skipped).toBeUndefined();
    expect(res.stdout).not.toMatch(/<failure/);
    expect(cases[0]['system-out']).toMatch(/PASSED/);
  });

  test('report.json: schema, passed, TTD/TTR, every stage passed, the finding names the env var and the crash-looping dependant', () => {
    const report = JSON.parse(readFileSync(join(reportDir, 'report.json'), 'utf8'));
    expect(report.schemaVersion).toBe(1);
    expect(report.cluster.provider).toBe('kind');
    expect(report.cluster.name).toBe(cluster);
    expect(report.scenarios).toHaveLength(1);
    const sc = report.scenarios[0];
    expect(sc.id).toBe('statefulset-env-conflict');
    expect(sc.status).toBe('passed');
    expect(typeof sc.ttdSeconds).toBe('number');
    expect(typeof sc.ttrSeconds).toBe('number');
    expect(sc.ttdSeconds).toBeGreaterThan(0);
    expect(sc.ttrSeconds).toBeGreaterThan(0);
    expect(sc.stages.map((s: any) => s.name)).toEqual([...STAGE_ORDER]);
    for (const s of sc.stages) expect(`${s.name} ${s.status}`).toBe(`${s.name} passed`);
    const byName = Object.fromEntries(sc.stages.map((s: any) => [s.name, s]));
    // provision really made the cluster, teardown really deleted it
    expect(byName.provision.message).toContain(`created kind cluster ${cluster}`);
    expect(byName.teardown.message).toContain(`deleted cluster ${cluster}`);
    const f = sc.findings.find((x: any) => x.detector === 'statefulset-env-conflict');
    expect(f).toBeDefined();
    expect(f.summary).toContain('POSTGRES_PASSWORD');
    expect(f.summary).toMatch(/dependants crash-looping: harbor\/core-[a-z0-9]+-[a-z0-9]+/);
    expect(f.evidence.join('\n')).toMatch(/FailedCreate x\d+ \(statefulset-controller\): .*may not be specified when `value` is not empty/);
    console.log(`[statefulset-scenario] TTD ${sc.ttdSeconds}s, TTR ${sc.ttrSeconds}s; stages: ${sc.stages.map((s: any) => `${s.name} ${s.durationSeconds}s`).join(', ')}`);
  });

  test('no Secret value in report.json, junit.xml, report.md, report.html or stdout', () => {
    const files = ['report.json', 'junit.xml', 'report.md', 'report.html'];
    const texts = files.map((f) => [f, readFileSync(join(reportDir, f), 'utf8')] as const);
    texts.push(['stdout', res.stdout]);
    const secrets = secretValues();
    expect(secrets.length).toBeGreaterThanOrEqual(2);
    for (const [name, text] of texts) {
      // the reports do talk about the variable, so the absence of its value is meaningful
      expect(`${name}: ${text.includes('POSTGRES_PASSWORD')}`).toBe(`${name}: true`);
      for (const v of secrets) expect(`${name} contains ${v}: ${text.includes(v)}`).toBe(`${name} contains ${v}: false`);
    }
  });

  test("kind get clusters no longer lists the run's cluster", async () => {
    expect(cluster).toBeDefined();
    expect(clustersBefore).not.toContain(cluster);
    expect(await kindClusters()).not.toContain(cluster);
    expect(existsSync(join(env.FAULTLINE_STATE_DIR, 'clusters.json'))).toBe(true);
    expect(JSON.parse(readFileSync(join(env.FAULTLINE_STATE_DIR, 'clusters.json'), 'utf8'))).toEqual([]);
  });
});
