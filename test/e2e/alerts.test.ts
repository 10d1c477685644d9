// End to end: the alerting stack on the shared single-node kind cluster (cluster-pool.ts). A team's own
// rule file with a fast etcd WAL fsync alert fires during etcd-slow-disk and shows in the JSON and JUnit reports;
// an expected standard alert that cannot fire in the time given fails the scenario with not-fired; after each run,
// after SIGINT, and after SIGKILL followed by `faultline recover`, no monitoring object is left (namespace, ClusterRole, binding).
// A team's own Prometheus and Alertmanager, run outside the cluster (testcontainers, the forged images), scrape
// the API server; with --prometheus/--alertmanager their write-latency alert fires and faultline deploys nothing.
import { afterAll, beforeAll, describe, expect, jest, test } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { XMLParser } from 'fast-xml-parser';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { assertBuilt, e2eTempDir, expectPassed, runCli, startCli, type CliProcess } from './support.js';
import { sharedCluster } from './cluster-pool.js';

jest.setTimeout(40 * 60_000);

const shared = sharedCluster('single');
const tmp = e2eTempDir('alerts');
const { stateDir, env, name } = shared;
const started: CliProcess[] = [];
let kc: k8s.KubeConfig;

const RULES = join(tmp, 'team-rules.yaml');
// a team's own alert: etcd's WAL fsync p99 over one minute above 100 ms for 20 s (the standard one waits 10 min)
writeFileSync(
  RULES,
  `groups:
  - name: team-etcd
    rules:
      - alert: TeamEtcdWalFsyncSlow
        expr: histogram_quantile(0.99, rate(etcd_disk_wal_fsync_duration_seconds_bucket[1m])) > 0.1
        for: 20s
        labels: { severity: page }
`,
);

/** Monitoring objects faultline's alerting stack would leave: its namespace, and cluster-scoped RBAC. */
async function monitoringLeft(): Promise<string[]> {
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const rbac = kc.makeApiClient(k8s.RbacAuthorizationV1Api);
  const left: string[] = [];
  try {
    const ns = await core.readNamespace({ name: 'faultline-alerts' });
    left.push(`namespace faultline-alerts (${ns.status?.phase})`);
  } catch (err) {
    if ((err as { code?: number }).code !== 404) throw err;
  }
  for (const r of (await rbac.listClusterRole()).items) if (r.metadata?.name?.startsWith('faultline-alerts')) left.push(`ClusterRole ${r.metadata.name}`);
  for (const b of (await rbac.listClusterRoleBinding()).items) if (b.metadata?.name?.startsWith('faultline-alerts')) left.push(`ClusterRoleBinding ${b.metadata.name}`);
  return left;
}

const junitCases = (dir: string) => {
  const doc = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '@_' }).parse(readFileSync(join(dir, 'junit.xml'), 'utf8'));
  const cases = doc.testsuites.testsuite.testcase as Array<Record<string, any>>;
  return Object.fromEntries((Array.isArray(cases) ? cases : [cases]).map((c) => [c['@_name'], c]));
};

/** A port on this host nothing listens on now. */
async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

/** The team's stack, outside the cluster on this host's network: Prometheus scrapes the API server with the
 *  kubeconfig's client certificate; its one rule pages when writes through the API are slow. */
async function teamStack(): Promise<{ prometheus: string; alertmanager: string; stop(): Promise<void> }> {
  process.env.TESTCONTAINERS_RYUK_DISABLED ??= 'true';
  const { GenericContainer, Wait } = await import('testcontainers');
  const versions = readFileSync('images/tools.env', 'utf8');
  const version = (k: string) => new RegExp(`^${k}=(\\S+)`, 'm').exec(versions)![1]!;
  const [pp, ap] = [await freePort(), await freePort()];
  const api = new URL(kc.getCurrentCluster()!.server);
  const user = kc.getCurrentUser()!;
  const files = [
    { content: Buffer.from(user.certData!, 'base64').toString(), target: '/etc/team/client.crt' },
    { content: Buffer.from(user.keyData!, 'base64').toString(), target: '/etc/team/client.key' },
    {
      target: '/etc/team/prometheus.yml',
      content: JSON.stringify({
        global: { scrape_interval: '5s', evaluation_interval: '5s' },
        rule_files: ['/etc/team/rules.yml'],
        alerting: { alertmanagers: [{ static_configs: [{ targets: [`127.0.0.1:${ap}`] }] }] },
        scrape_configs: [{ job_name: 'apiserver', scheme: 'https', tls_config: { insecure_skip_verify: true, cert_file: '/etc/team/client.crt', key_file: '/etc/team/client.key' }, static_configs: [{ targets: [api.host] }] }],
      }),
    },
    {
      target: '/etc/team/rules.yml',
      content: JSON.stringify({
        groups: [{ name: 'team-api', rules: [{ alert: 'TeamApiWritesSlow', expr: 'histogram_quantile(0.99, sum by (le) (rate(apiserver_request_duration_seconds_bucket{job="apiserver",verb=~"POST|PUT|PATCH|DELETE"}[1m]))) > 0.4', for: '15s' }] }],
      }),
    },
    { target: '/etc/team/alertmanager.yml', content: JSON.stringify({ route: { receiver: 'none', group_wait: '0s' }, receivers: [{ name: 'none' }] }) },
  ];
  const prom = await new GenericContainer(`faultline/prometheus:${version('PROMETHEUS_VERSION')}`)
    .withNetworkMode('host')
    .withCopyContentToContainer(files)
    .withCommand(['--config.file=/etc/team/prometheus.yml', '--storage.tsdb.path=/tmp/prometheus', `--web.listen-address=127.0.0.1:${pp}`])
    .withWaitStrategy(Wait.forLogMessage(/Server is ready to receive web requests/))
    .start();
  const am = await new GenericContainer(`faultline/alertmanager:${version('ALERTMANAGER_VERSION')}`)
    .withNetworkMode('host')
    .withCopyContentToContainer(files)
    .withCommand(['--config.file=/etc/team/alertmanager.yml', '--storage.path=/tmp/alertmanager', `--web.listen-address=127.0.0.1:${ap}`, '--cluster.listen-address='])
    .withWaitStrategy(Wait.forLogMessage(/Listening on/))
    .start();
  return { prometheus: `http://127.0.0.1:${pp}`, alertmanager: `http://127.0.0.1:${ap}`, stop: async () => void (await Promise.all([prom.stop(), am.stop()])) };
}

beforeAll(async () => {
  assertBuilt();
  const kubeconfig = await shared.acquire();
  kc = new k8s.KubeConfig();
  kc.loadFromFile(kubeconfig);
});

afterAll(() => shared.release({ started, tmp, recover: true }));

/** etcd-slow-disk with the stack, held after its fault is applied: both are in place when this returns. */
async function heldWithStack(tag: string): Promise<CliProcess> {
  const run = startCli(['run', 'etcd-slow-disk', '--cluster', name, '--alerts'], { ...env, FAULTLINE_TEST_HOLD_AFTER_APPLY_MS: '600000' }, tag);
  started.push(run);
  await run.waitForLine(/^faultline: holding 600000ms after apply/, 15 * 60_000);
  expect((await monitoringLeft()).length).toBeGreaterThan(0);
  return run;
}

describe('alerts during etcd-slow-disk', () => {
  test("the team's own fast alert fires, and shows in the JSON and JUnit reports; nothing is left", async () => {
    const dir = join(tmp, 'report-user');
    const res = await runCli(['run', 'etcd-slow-disk', '--cluster', name, '--alert-rules', RULES, '--expect-alert', 'TeamEtcdWalFsyncSlow=300', '--report-dir', dir], env, 25 * 60_000, 'alerts-user');
    expectPassed(res, dir);
    const sc = JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8')).scenarios[0];
    const team = sc.alerts.find((a: any) => a.name === 'TeamEtcdWalFsyncSlow');
    expect(team).toMatchObject({ source: 'user', state: 'fired', expectedWithin: 300 });
    expect(team.firedAfterSeconds).toBeGreaterThan(0);
    console.log(`[alerts] TeamEtcdWalFsyncSlow pending after ${team.pendingAfterSeconds}s, fired after ${team.firedAfterSeconds}s; faultline TTD ${sc.ttdSeconds}s`);
    const tc = junitCases(dir)['etcd-slow-disk/TeamEtcdWalFsyncSlow'];
    expect(tc).toBeDefined();
    expect(tc.failure).toBeUndefined();
    expect(await monitoringLeft()).toEqual([]);
  });

  test('an expected standard alert that cannot fire in time fails the scenario with not-fired, and still reverts', async () => {
    const dir = join(tmp, 'report-notfired');
    // etcdHighFsyncDurations waits 10 minutes (for: 10m): it cannot fire within 60 s
    const res = await runCli(['run', 'etcd-slow-disk', '--cluster', name, '--expect-alert', 'etcdHighFsyncDurations=60', '--report-dir', dir], env, 25 * 60_000, 'alerts-notfired');
    expect(res.code).toBe(1);
    const sc = JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8')).scenarios[0];
    expect(sc.status).toBe('failed');
    expect(sc.reason).toContain('etcdHighFsyncDurations (');
    expect(sc.alerts.find((a: any) => a.name === 'etcdHighFsyncDurations')).toMatchObject({ source: 'builtin', expectedWithin: 60 });
    expect(['not-fired', 'pending']).toContain(sc.alerts.find((a: any) => a.name === 'etcdHighFsyncDurations').state);
    expect(sc.stages.find((s: any) => s.name === 'revert').status).toBe('passed');
    expect(junitCases(dir)['etcd-slow-disk/etcdHighFsyncDurations'].failure['@_type']).toBe('AlertNotFired');
    expect(await monitoringLeft()).toEqual([]);
  });

  test("the team's own Prometheus and Alertmanager (--prometheus, --alertmanager): its alert fires, source external; nothing is deployed", async () => {
    const stack = await teamStack();
    try {
      const dir = join(tmp, 'report-external');
      mkdirSync(dir, { recursive: true });
      const res = await runCli(
        ['run', 'etcd-slow-disk', '--cluster', name, '--prometheus', stack.prometheus, '--alertmanager', stack.alertmanager, '--expect-alert', 'TeamApiWritesSlow=300', '--report-dir', dir],
        env,
        25 * 60_000,
        'alerts-external',
      );
      expectPassed(res, dir);
      const report = JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8'));
      const sc = report.scenarios[0];
      const team = sc.alerts.find((a: any) => a.name === 'TeamApiWritesSlow');
      expect(team).toMatchObject({ source: 'external', state: 'fired', inAlertmanager: true, expectedWithin: 300 });
      console.log(`[alerts] external TeamApiWritesSlow pending after ${team.pendingAfterSeconds}s, fired after ${team.firedAfterSeconds}s; faultline TTD ${sc.ttdSeconds}s`);
      // read-only: no set-up of the run deployed a stack
      const journal = JSON.parse(readFileSync(join(stateDir, 'journal', `${report.runId}.json`), 'utf8'));
      expect(journal.entries.map((e: any) => e.faultType)).not.toContain('alerting-stack');
      expect(await monitoringLeft()).toEqual([]);
    } finally {
      await stack.stop();
    }
  });

  test('SIGINT while the stack and the fault are in place: the run reverts both and exits 130', async () => {
    const run = await heldWithStack('alerts-sigint');
    run.child.kill('SIGINT');
    const res = await run.exited(10 * 60_000);
    expect(res.code).toBe(130);
    expect(await monitoringLeft()).toEqual([]);
  });

  test('SIGKILL while the stack and the fault are in place: recover removes the stack too', async () => {
    const run = await heldWithStack('alerts-sigkill');
    run.child.kill('SIGKILL');
    await run.exited(60_000);
    const rec = await runCli(['recover'], env, 10 * 60_000, 'recover');
    expect(rec.code).toBe(0);
    expect(rec.stdout).toContain('alerting stack of run');
    expect(await monitoringLeft()).toEqual([]);
  });
});
