// The team's own stack (--prometheus, --alertmanager), read over HTTP. The "Prometheus" and "Alertmanager" here
// are FAKE: a local HTTP server answering their two API paths with fixed JSON, recording what it was sent.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { externalAlertNames, externalReader, parseStackUrl, safeUrl } from '../../harness/alerts/external.js';
import { AlertWatch, alertReports } from '../../harness/alerts/watch.js';
import { repoRoot } from '../../harness/core/paths.js';
import { alertWatchFor, withAlerting } from '../../harness/engine/alerting.js';
import { builtinRegistries } from '../../harness/engine/registries.js';
import { loadScenario } from '../../harness/engine/scenario-loader.js';

const seen: Array<{ url: string; headers: IncomingHttpHeaders }> = [];
let server: Server;
let base: string;
/** a port nothing listens on (fetch refuses "bad ports" such as 1 or 9 before it connects) */
let closed: number;

const RULES = { status: 'success', data: { groups: [{ name: 'team', rules: [{ type: 'alerting', name: 'TeamEtcdSlow' }, { type: 'recording', name: 'job:x:rate5m' }, { type: 'alerting', name: 'KubePodCrashLooping' }] }] } };
const ALERTS = { status: 'success', data: { alerts: [{ labels: { alertname: 'TeamEtcdSlow' }, state: 'firing', activeAt: '2026-12-01T10:00:00Z' }, { labels: { alertname: 'KubePodCrashLooping' }, state: 'pending', activeAt: '2026-12-01T10:00:05Z' }] } };

beforeAll(async () => {
  server = createServer((req, res) => {
    seen.push({ url: req.url!, headers: req.headers });
    const body = req.url!.startsWith('/api/v1/rules') ? RULES : req.url === '/api/v1/alerts' ? ALERTS : req.url === '/api/v2/alerts' ? [{ labels: { alertname: 'TeamEtcdSlow' } }] : undefined;
    res.writeHead(body ? 200 : 404, { 'content-type': 'application/json' }).end(JSON.stringify(body ?? {}));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const probe = createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  closed = (probe.address() as AddressInfo).port;
  await new Promise<void>((r) => probe.close(() => r()));
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

const scenario = () => loadScenario(join(repoRoot(), 'scenarios', 'etcd-slow-disk'), builtinRegistries());

describe('the team’s own stack', () => {
  test('URLs: http(s) only, no query; credentials never in a message', () => {
    expect(parseStackUrl('--prometheus', 'http://prom:9090/')).toBe('http://prom:9090');
    expect(() => parseStackUrl('--prometheus', 'ftp://u:secret@x')).toThrow('--prometheus ftp://x: only http and https are read');
    expect(() => parseStackUrl('--prometheus', 'http://x/?a=1')).toThrow(/no query/);
    expect(() => parseStackUrl('--prometheus', 'not a url')).toThrow(/not a URL/);
    expect(safeUrl('https://alice:s3cret@prom.example:9090/base')).toBe('https://prom.example:9090/base');
  });

  test('its alerting rules are listed (recording rules are not alerts); credentials go in a Basic header', async () => {
    const withUser = base.replace('http://', 'http://alice:s3cret@');
    expect(await externalAlertNames(withUser)).toEqual(['KubePodCrashLooping', 'TeamEtcdSlow']);
    const last = seen.at(-1)!;
    expect(last.url).toBe('/api/v1/rules?type=alert');
    expect(last.headers.authorization).toBe(`Basic ${Buffer.from('alice:s3cret').toString('base64')}`);
  });

  test('a Prometheus that does not answer is bad input, without the password', async () => {
    const err = await externalAlertNames(`http://bob:pw@127.0.0.1:${closed}/`).catch((e: Error) => e);
    expect((err as Error).message.startsWith(`--prometheus http://127.0.0.1:${closed}: cannot read its rules: GET http://127.0.0.1:${closed}/api/v1/rules?type=alert: ECONNREFUSED;`)).toBe(true);
    expect((err as Error).message).not.toMatch(/bob|pw/);
    await expect(externalAlertNames(`${base}/nothing-here`)).rejects.toThrow(/HTTP 404/);
  });

  test('a run with --prometheus deploys nothing; expected alerts must be its rules; KubePodCrashLooping is evaluable there', async () => {
    const [sc] = await withAlerting([scenario()], { prometheus: base, alertmanager: base, expectAlert: ['TeamEtcdSlow=300', 'KubePodCrashLooping'] });
    expect(sc!.victim.setup).toEqual(scenario().victim.setup);
    expect(sc!.alerting!.external).toEqual({ prometheus: base, alertmanager: base });
    await expect(withAlerting([scenario()], { prometheus: base, expectAlert: ['etcdHighFsyncDurations'] })).rejects.toThrow(
      'etcd-slow-disk: your Prometheus has no alerting rule named etcdHighFsyncDurations',
    );
    await expect(withAlerting([scenario()], { prometheus: base, alerts: true })).rejects.toThrow(/pass one or the other|--alerts deploys/);
    await expect(withAlerting([scenario()], { prometheus: base, alertRules: ['x.yaml'] })).rejects.toThrow(/--alert-rules goes into the stack faultline deploys/);
    await expect(withAlerting([scenario()], { alertmanager: base })).rejects.toThrow(/--alertmanager needs --prometheus/);
  });

  test('what the watch reads: every alert is "external"; Alertmanager says which reached it', async () => {
    const [sc] = await withAlerting([scenario()], { prometheus: base, alertmanager: base, expectAlert: ['KubePodCrashLooping=60'] });
    const watch = alertWatchFor(sc!.alerting!, undefined as never);
    await watch.readOnce();
    expect(watch.firingNow).toEqual(['TeamEtcdSlow']);
    const reports = alertReports({ seen: watch.seen, injectEnd: Date.parse('2026-12-01T10:00:00Z'), expected: sc!.alerting!.expect, sourceOf: () => 'external', notEvaluable: {} });
    expect(reports.map((r) => [r.name, r.source, r.state, r.inAlertmanager ?? false])).toEqual([
      ['KubePodCrashLooping', 'external', 'pending', false],
      ['TeamEtcdSlow', 'external', 'fired', true],
    ]);
  });

  test('a read that fails is kept as the last error and retried, not thrown', async () => {
    const watch = new AlertWatch(externalReader({ prometheus: `http://127.0.0.1:${closed}` }));
    await watch.readOnce();
    expect(watch.lastError).toBe(`GET http://127.0.0.1:${closed}/api/v1/alerts: ECONNREFUSED`);
  });
});
