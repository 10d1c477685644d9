// `faultline drill` with FAKE provider, fault and runbook (helpers/fakes.ts): the "person" is a timer in the test
// that fixes the fake cluster; the printer is checked on its own.
import { describe, expect, jest, test } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseSeconds } from '../../harness/core/durations.js';
import { asDrill, liveLine, statusLine } from '../../harness/engine/drill.js';
import { runSuite } from '../../harness/engine/suite.js';
import { drillPrinter } from '../../harness/cli/drill-output.js';
import { FAKE_KUBE, FakeDeployer, FakeProvider, fakeRegistries, fakeScenario, fakeWorld, type FakeWorld } from './helpers/fakes.js';
import { useTempStateDir } from './helpers/tmp.js';

const tmp = useTempStateDir();

function drillRun(w: FakeWorld, verifyOk: (n: number) => boolean, deadlineSeconds = 3, prometheus?: string) {
  const progress: string[] = [];
  let polls = 0;
  const registries = fakeRegistries(w);
  registries.runbooks.get('fake-runbook')!.verify = async () => ({ ok: verifyOk(++polls), details: ['fake-fault is still in (verify details)'] });
  const deps = { provider: new FakeProvider(w), registries, connect: () => FAKE_KUBE, deployer: new FakeDeployer(w), pollIntervalMs: 10, onProgress: (_sc: string, stage: string, m: string) => void progress.push(`${stage}: ${m}`) };
  const sc = asDrill([fakeScenario({ symptom: 'the fake app answers 503', ...(prometheus ? { alerting: { expect: [], userAlerts: [], builtinAlerts: [], external: { prometheus } } } : {}) })], deadlineSeconds);
  return { progress, report: runSuite([sc], deps, { runId: 'run-drill', target: { mode: 'create', name: 'faultline-d' }, keep: false, signal: new AbortController().signal }) };
}

describe('drill with fakes', () => {
  test("a person who fixes it after a delay: that delay is the TTR; faultline detects and remediates nothing; the fault is reverted", async () => {
    const w = fakeWorld();
    let fixedAt: number | undefined;
    const { progress, report } = drillRun(w, () => {
      // the person fixes it 400 ms after the fault went in
      if (w.applied && fixedAt === undefined) setTimeout(() => (fixedAt = Date.now()), 400);
      return fixedAt !== undefined;
    });
    const sc = (await report).scenarios[0]!;
    expect(sc.status).toBe('passed');
    expect(sc.recovery).toBe('drill');
    expect(sc.ttdSeconds).toBeNull();
    expect(sc.ttrSeconds!).toBeGreaterThanOrEqual(0.4);
    expect(sc.ttrSeconds!).toBeLessThan(2);
    const st = Object.fromEntries(sc.stages.map((s) => [s.name, s]));
    for (const n of ['detect', 'diagnose', 'remediate']) expect(st[n]!.message).toBe('skipped: a drill: people find and fix it');
    expect(w.calls).not.toContain('runbook.remediate');
    expect(w.calls.filter((c) => c.startsWith('fault.revert'))).toEqual(['fault.revert undo-x']);
    // while it is live, on-call hears the symptom, never the fault nor verify's details
    const live = progress.filter((p) => p.startsWith('verify: ') && p !== 'verify: started' && !p.startsWith('verify: passed'));
    expect(live[0]).toBe('verify: the incident is live: the fake app answers 503 (namespace victim); you have 3s to make it healthy');
    expect(live.join('\n')).not.toMatch(/fake-fault|verify details/);
    const journal = JSON.parse(readFileSync(`${tmp.path}/journal/run-drill.json`, 'utf8'));
    expect(journal.entries.map((e: { state: string }) => e.state)).toEqual(['reverted']);
  });

  test('nobody fixes it: the drill fails on its deadline, and the fault is reverted all the same', async () => {
    const w = fakeWorld();
    const { report } = drillRun(w, () => false, 1);
    const sc = (await report).scenarios[0]!;
    expect(sc.status).toBe('failed');
    expect(sc.reason).toMatch(/^verify failed: verify exceeded its deadline of 1s/);
    expect(sc.ttrSeconds).toBeNull();
    expect(w.applied).toBe(false);
  });

  test("with the team's stack (a FAKE Prometheus on a local port), the alerts that fired while people worked are in the report", async () => {
    const server = createServer((req, res) => {
      const alerts = req.url === '/api/v1/alerts' ? [{ labels: { alertname: 'TeamAppDown' }, state: 'firing', activeAt: new Date().toISOString() }] : [];
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ data: { alerts } }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const w = fakeWorld();
      let polls = 0;
      const { report } = drillRun(w, () => ++polls > 20, 5, `http://127.0.0.1:${(server.address() as AddressInfo).port}`);
      const sc = (await report).scenarios[0]!;
      expect(sc.status).toBe('passed');
      expect(sc.alerts?.map((a) => [a.name, a.source, a.state])).toEqual([['TeamAppDown', 'external', 'fired']]);
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
    }
  });

  test('a fault that takes a moment to show is not counted as fixed before it was ever broken', async () => {
    const w = fakeWorld();
    // healthy for the first 3 polls (the fault not visible yet), broken for 3, then fixed
    const { progress, report } = drillRun(w, (n) => n <= 3 || n > 6);
    const sc = (await report).scenarios[0]!;
    expect(sc.status).toBe('passed');
    expect(progress.filter((p) => p === 'verify: the incident has not shown yet')).toHaveLength(1);
    expect(sc.ttrSeconds!).toBeGreaterThan(0.05); // 6 polls at 10 ms at least
  });
});

describe('drill: input and lines', () => {
  test('one scenario, not a self-healing one; the deadline becomes verify’s', () => {
    expect(() => asDrill([fakeScenario(), fakeScenario()], 60)).toThrow('a drill runs exactly one scenario');
    expect(() => asDrill([fakeScenario({ recovery: 'self' })], 60)).toThrow(/recovers on its own/);
    const d = asDrill([fakeScenario()], 600);
    expect(d.stageDeadlines.verify).toBe(600);
    expect(d.drill).toEqual({ deadlineSeconds: 600 });
    expect(liveLine(d)).toBe('the incident is live: something is wrong with the workloads in namespace victim (namespace victim); you have 10m00s to make it healthy');
  });

  test('durations: seconds, s, m, h; nothing else', () => {
    expect(['900', '90s', '15m', '2h', ' 5m '].map(parseSeconds)).toEqual([900, 90, 900, 7200, 300]);
    for (const bad of ['', '0', '5x', '1.5m', '-3', '169h', 'm']) expect(parseSeconds(bad)).toBeUndefined();
  });

  test('status line: elapsed, left, and the alerts firing only when alerts are watched', () => {
    expect(statusLine(150, 900, undefined)).toBe('still not healthy after 2m30s, 12m30s left');
    expect(statusLine(950, 900, [])).toBe('still not healthy after 15m50s, 0s left; alerts firing: none');
    expect(statusLine(30, 900, ['etcdHighFsyncDurations'])).toBe('still not healthy after 30s, 14m30s left; alerts firing: etcdHighFsyncDurations');
  });

  test('the printer holds back what faultline does until the drill is over, then prints it first', () => {
    const lines: string[] = [];
    const spy = jest.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => (lines.push(String(s).trimEnd()), true));
    try {
      const p = drillPrinter(Date.now());
      p.onProgress('sc', 'inject', 'started');
      p.onProgress('sc', 'inject', 'strace attached: fsync delayed 500 ms');
      p.log('fault etcd-fsync-delay applied');
      p.onProgress('sc', 'verify', 'the incident is live: slow');
      const live = lines.join('\n');
      expect(live).toMatch(/preparing: inject/);
      expect(live).toMatch(/drill: the incident is live: slow/);
      expect(live).not.toMatch(/strace|fsync|etcd-fsync-delay/);
      p.onProgress('sc', 'revert', 'started');
      const all = lines.join('\n');
      expect(all).toMatch(/the drill is over; what faultline did and saw:[\s\S]*inject: strace attached: fsync delayed 500 ms[\s\S]*fault etcd-fsync-delay applied[\s\S]*revert: started/);
    } finally {
      spy.mockRestore();
    }
  });
});
