// The alerting stack's pure parts and its checks before a run (no cluster): rule files read and checked with the
// real promtool the forge builds (skipped with the reason when it is missing), expected alerts parsed, the alerts'
// timeline folded into report entries, the stack's objects, and JUnit with alerts.
import { describe, expect, test } from '@jest/globals';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { XMLParser } from 'fast-xml-parser';
import { ALERTS_NAMESPACE, prometheusConfig, rulesText, stackNames, stackObjects } from '../../harness/alerts/manifests.js';
import { loadUserRules, parseRuleText, promtoolCheck } from '../../harness/alerts/rule-files.js';
import { ALERTMANAGER_IMAGE, PROMETHEUS_IMAGE } from '../../harness/alerts/stack.js';
import { NOT_EVALUABLE, STANDARD_RULE_GROUPS } from '../../harness/alerts/standard-rules.js';
import { NODE_READ, alertReports, clusterStackReader, expectationsSettled, observe, parseNodeRead, type Seen } from '../../harness/alerts/watch.js';
import { KubeConfig } from '@kubernetes/client-node';
import { findBinary } from '../../harness/cluster/binaries.js';
import { UserError } from '../../harness/core/errors.js';
import { MANAGED_BY } from '../../harness/core/labels.js';
import { RUN_ID_ANNOTATION } from '../../harness/faults/victim-namespace.js';
import { repoRoot } from '../../harness/core/paths.js';
import { parseExpectAlert, withAlerting } from '../../harness/engine/alerting.js';
import { loadScenario } from '../../harness/engine/scenario-loader.js';
import { builtinRegistries } from '../../harness/engine/registries.js';
import { renderJUnit } from '../../harness/report/junit.js';
import type { Report } from '../../harness/report/types.js';
import { tempDir } from './helpers/tmp.js';

const RULE_FILE = `groups:
  - name: team
    rules:
      - alert: EtcdWalFsyncSlow
        expr: histogram_quantile(0.99, rate(etcd_disk_wal_fsync_duration_seconds_bucket[1m])) > 0.1
        for: 30s
`;
const PROMETHEUS_RULE = `apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata: { name: team }
spec:
  groups:
    - name: team-api
      rules:
        - alert: ApiSlow
          expr: up == 0
`;

const promtool = findBinary('promtool', 'FAULTLINE_PROMTOOL');
if (!promtool) console.warn('skipping the promtool checks: promtool not found (run make forge: it builds promtool from the Prometheus module)');
const withPromtool = promtool ? test : test.skip;

describe('rule files', () => {
  test('a Prometheus rule file and a PrometheusRule manifest give their groups; several documents too', () => {
    expect(parseRuleText(RULE_FILE, 'a.yaml').map((g) => g.name)).toEqual(['team']);
    expect(parseRuleText(PROMETHEUS_RULE, 'b.yaml').map((g) => g.name)).toEqual(['team-api']);
    expect(parseRuleText(`${RULE_FILE}---\n${PROMETHEUS_RULE}`, 'c.yaml')).toHaveLength(2);
  });

  test('not YAML, no groups, or neither shape: one line naming the file', () => {
    expect(() => parseRuleText('groups: [', 'x.yaml')).toThrow(/x\.yaml: not YAML/);
    expect(() => parseRuleText('kind: ConfigMap\n', 'y.yaml')).toThrow(/y\.yaml: neither a Prometheus rule file/);
    expect(() => parseRuleText('', 'z.yaml')).toThrow(/z\.yaml: no rule groups/);
  });

  withPromtool('promtool accepts the standard set and a good file, and says why it refuses a bad expression', async () => {
    expect(await promtoolCheck(STANDARD_RULE_GROUPS, 'standard')).toBeUndefined();
    expect(await promtoolCheck(parseRuleText(RULE_FILE, 'a.yaml'), 'a.yaml')).toBeUndefined();
    const bad = await promtoolCheck([{ name: 'g', rules: [{ alert: 'Broken', expr: 'rate(x[5m' }] }], 'team.yaml');
    expect(bad).toMatch(/^team\.yaml: promtool check rules: .*/);
  });

  withPromtool('a bad file given to a run is a UserError before anything changes', async () => {
    const tmp = tempDir();
    try {
      const f = join(tmp.path, 'bad.yaml');
      writeFileSync(f, 'groups:\n  - name: g\n    rules:\n      - alert: Broken\n        expr: "sum(("\n');
      await expect(loadUserRules([f])).rejects.toThrow(UserError);
      await expect(loadUserRules([join(tmp.path, 'missing.yaml')])).rejects.toThrow(/--alert-rules .*missing\.yaml.*does not exist/);
      const good = join(tmp.path, 'good.yaml');
      writeFileSync(good, RULE_FILE);
      const rules = await loadUserRules([good]);
      expect(rules.alerts).toEqual(['EtcdWalFsyncSlow']);
      expect(rules.groups[0]!.name).toBe('user-1-team');
    } finally {
      tmp.cleanup();
    }
  });
});

describe('expected alerts', () => {
  test('NAME or NAME=SECONDS; anything else is bad input', () => {
    expect(parseExpectAlert(['etcdHighFsyncDurations=900', 'KubeAPIDown'])).toEqual([
      { name: 'etcdHighFsyncDurations', within: 900 },
      { name: 'KubeAPIDown', within: 1200 },
    ]);
    expect(() => parseExpectAlert(['x=abc'])).toThrow(UserError);
    expect(() => parseExpectAlert(['x=0'])).toThrow(/outside/);
    expect(() => parseExpectAlert(['has space'])).toThrow(UserError);
  });

  const scenario = () => loadScenario(join(repoRoot(), 'scenarios', 'etcd-slow-disk'), builtinRegistries());

  test('nothing asked: the scenario is unchanged; --alerts: the stack is its first set-up', async () => {
    const sc = scenario();
    expect(await withAlerting([sc], {})).toEqual([sc]);
    const [on] = await withAlerting([sc], { alerts: true });
    expect(on!.victim.setup[0]!.type).toBe('alerting-stack');
    expect(on!.victim.setup.slice(1)).toEqual(sc.victim.setup);
    expect(on!.alerting!.builtinAlerts).toContain('etcdHighFsyncDurations');
    expect(String((on!.victim.setup[0]!.params as { rules: string }).rules)).toContain('etcd_disk_wal_fsync_duration_seconds_bucket');
  });

  test('an expected alert no rule defines is bad input', async () => {
    await expect(withAlerting([scenario()], { expectAlert: ['NoSuchAlert=60'] })).rejects.toThrow(/NoSuchAlert defined by no rule of the run/);
    const [sc] = await withAlerting([scenario()], { expectAlert: ['etcdHighFsyncDurations=900', 'KubePodCrashLooping'] });
    expect(sc!.alerting!.expect).toEqual([
      { name: 'etcdHighFsyncDurations', within: 900 },
      { name: 'KubePodCrashLooping', within: 1200 },
    ]);
  });
});

describe('the alerts seen during a fault', () => {
  const T0 = Date.parse('2026-12-01T12:00:00Z');
  const at = (s: number) => T0 + s * 1000;
  const iso = (s: number) => new Date(at(s)).toISOString();

  test('first pending (activeAt) and first firing times win; report entries are seconds from the end of inject', () => {
    const seen = new Map<string, Seen>();
    observe(seen, [{ labels: { alertname: 'Fast' }, state: 'pending', activeAt: iso(4) }], new Set(), at(6));
    observe(seen, [{ labels: { alertname: 'Fast' }, state: 'firing', activeAt: iso(4) }, { labels: { alertname: 'Other' }, state: 'pending', activeAt: iso(20) }], new Set(['Fast']), at(36));
    observe(seen, [{ labels: { alertname: 'Fast' }, state: 'firing', activeAt: iso(4) }], new Set(['Fast']), at(40));
    const reports = alertReports({
      seen,
      injectEnd: T0,
      expected: [{ name: 'Fast', within: 60 }, { name: 'Never', within: 60 }, { name: 'KubePodCrashLooping', within: 60 }],
      sourceOf: (n) => (n === 'Fast' ? 'user' : n === 'Never' ? 'builtin' : undefined),
      notEvaluable: NOT_EVALUABLE,
    });
    expect(reports).toEqual([
      { name: 'Fast', source: 'user', state: 'fired', pendingAfterSeconds: 4, firedAfterSeconds: 36, inAlertmanager: true, expectedWithin: 60 },
      { name: 'Never', source: 'builtin', state: 'not-fired', expectedWithin: 60 },
      { name: 'KubePodCrashLooping', source: 'external', state: 'not-evaluable', note: NOT_EVALUABLE.KubePodCrashLooping, expectedWithin: 60 },
      { name: 'Other', source: 'external', state: 'pending', pendingAfterSeconds: 20 },
    ]);
  });

  test('fired, but later than expected: not-fired, with when it did', () => {
    const seen = new Map<string, Seen>([['Slow', { pendingAt: at(10), firedAt: at(90) }]]);
    const [r] = alertReports({ seen, injectEnd: T0, expected: [{ name: 'Slow', within: 60 }], sourceOf: () => 'builtin', notEvaluable: {} });
    expect(r!.state).toBe('not-fired');
    expect(r!.note).toBe('fired after 90s, later than the 60s expected');
  });

  test('settled once every expected alert fired, cannot be evaluated, or ran out of time', () => {
    const seen = new Map<string, Seen>([['A', { firedAt: at(5) }]]);
    const expected = [{ name: 'A', within: 60 }, { name: 'B', within: 30 }];
    expect(expectationsSettled(seen, expected, T0, at(10), {})).toBe(false);
    expect(expectationsSettled(seen, expected, T0, at(30), {})).toBe(true);
    expect(expectationsSettled(seen, expected, T0, at(10), { B: 'needs kube-state-metrics' })).toBe(true);
  });
});

describe('the stack', () => {
  test("every object is labelled as faultline's; the images are the forged versions", () => {
    const objs = stackObjects(stackNames('20261201-120000-ab12'), { node: 'cp', rules: rulesText(STANDARD_RULE_GROUPS), prometheusImage: PROMETHEUS_IMAGE, alertmanagerImage: ALERTMANAGER_IMAGE });
    for (const o of objs) expect(o.metadata.labels[MANAGED_BY.key]).toBe(MANAGED_BY.value);
    // the namespace is reverted like a victim namespace: only when annotated with the run that made it
    expect(objs.find((o) => o.kind === 'Namespace')!.metadata.annotations[RUN_ID_ANNOTATION]).toBe('20261201-120000-ab12');
    expect(objs.filter((o) => o.metadata.namespace).every((o) => o.metadata.namespace === ALERTS_NAMESPACE)).toBe(true);
    const tools = readFileSync(join(repoRoot(), 'images', 'tools.env'), 'utf8');
    expect(PROMETHEUS_IMAGE).toBe(`faultline/prometheus:${/^PROMETHEUS_VERSION=(\S+)$/m.exec(tools)![1]}`);
    expect(ALERTMANAGER_IMAGE).toBe(`faultline/alertmanager:${/^ALERTMANAGER_VERSION=(\S+)$/m.exec(tools)![1]}`);
  });

  test("the scrape jobs are named as the mixins' rules select them", () => {
    const cfg = prometheusConfig();
    for (const job of ['etcd', 'kube-apiserver', 'kubelet', 'kube-controller-manager', 'kube-scheduler']) expect(cfg).toContain(`job_name: ${job}`);
  });
});

describe('JUnit with alerts', () => {
  test('an expected alert that did not fire is a failed test case; not-evaluable is skipped', () => {
    const report = {
      schemaVersion: 1,
      tool: { name: 'faultline', version: 't' },
      runId: 'r',
      startedAt: '2026-12-01T12:00:00Z',
      endedAt: '2026-12-01T12:10:00Z',
      cluster: { provider: 'kind', name: 'c' },
      scenarios: [
        {
          id: 'etcd-slow-disk',
          title: 't',
          status: 'failed',
          reason: 'detect failed',
          ttdSeconds: 10,
          ttrSeconds: null,
          standardAlert: { name: 'etcdHighFsyncDurations', waitSeconds: 600 },
          stages: [],
          findings: [],
          integrity: [],
          alerts: [
            { name: 'EtcdWalFsyncSlow', source: 'user', state: 'fired', firedAfterSeconds: 41, expectedWithin: 120 },
            { name: 'etcdHighFsyncDurations', source: 'builtin', state: 'not-fired', expectedWithin: 60 },
            { name: 'KubePodCrashLooping', source: 'external', state: 'not-evaluable', note: 'needs kube-state-metrics' },
          ],
        },
      ],
    } as unknown as Report;
    const doc = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '@_' }).parse(renderJUnit(report));
    const suite = doc.testsuites.testsuite;
    expect([suite['@_tests'], suite['@_failures'], suite['@_skipped']]).toEqual(['4', '2', '1']);
    const byName = Object.fromEntries((suite.testcase as Array<Record<string, any>>).map((c) => [c['@_name'], c]));
    expect(byName['etcd-slow-disk/EtcdWalFsyncSlow'].failure).toBeUndefined();
    expect(byName['etcd-slow-disk/etcdHighFsyncDurations'].failure['@_type']).toBe('AlertNotFired');
    expect(byName['etcd-slow-disk/KubePodCrashLooping'].skipped['@_message']).toBe('needs kube-state-metrics');
  });
});

describe('reading the stack while the API server is down', () => {
  // a kubeconfig whose server nothing answers: the service proxy read fails, as during a control-plane outage
  const deadApi = () => {
    const kc = new KubeConfig();
    kc.loadFromOptions({ clusters: [{ name: 'c', server: 'https://127.0.0.1:9', skipTLSVerify: true }], users: [{ name: 'u' }], contexts: [{ name: 'x', cluster: 'c', user: 'u' }], currentContext: 'x' });
    return kc;
  };
  const promJson = JSON.stringify({ data: { alerts: [{ labels: { alertname: 'KubeAPIDown' }, state: 'pending', activeAt: '2026-12-01T10:00:00Z' }] } });

  test('falls back to curl on the node (FAKE node command): both APIs parsed, Alertmanager optional', async () => {
    const scripts: string[] = [];
    const read = clusterStackReader(deadApi(), async (script) => (scripts.push(script), `${promJson}\n---faultline-alertmanager---\n[{"labels":{"alertname":"KubeAPIDown"}}]`));
    const r = await read();
    expect(r.prom.map((a) => a.labels.alertname)).toEqual(['KubeAPIDown']);
    expect([...r.am]).toEqual(['KubeAPIDown']);
    expect(scripts[0]).toBe(NODE_READ);
    expect(NODE_READ).toContain('http://127.0.0.1:19090/api/v1/alerts');
    expect((await parseNodeRead(`${promJson}\n---faultline-alertmanager---\n`)).am.size).toBe(0);
  });

  test('without node access, or when the node read fails too, the error names both', async () => {
    await expect(clusterStackReader(deadApi())()).rejects.toThrow(/service|ECONNREFUSED|bad port|127\.0\.0\.1/);
    await expect(clusterStackReader(deadApi(), async () => Promise.reject(new Error('curl on cp: exit 7')))()).rejects.toThrow(/; on the node: curl on cp: exit 7$/);
  });
});
