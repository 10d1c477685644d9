// Spawns the built CLI (`npm run build` first; `npm run test:unit` does it) and checks bad input gives one
// stderr line and exit 2. Everything runs against temp state dirs and a kubeconfig whose server is
// 127.0.0.1:1, where nothing listens: no cluster is involved.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../../harness/core/paths.js';
import { writeUnreachableKubeconfig } from '../helpers/kubeconfig.js';
import { tempDir } from './helpers/tmp.js';

const MAIN = join(repoRoot(), 'dist', 'harness', 'cli', 'main.js');
let tmp: ReturnType<typeof tempDir>;
let env: NodeJS.ProcessEnv;
let kubeconfig: string;

beforeAll(() => {
  if (!existsSync(MAIN)) throw new Error(`${MAIN} missing: run \`npm run build\` before the unit tests`);
  tmp = tempDir();
  kubeconfig = writeUnreachableKubeconfig(join(tmp.path, 'kubeconfig'));
  mkdirSync(join(tmp.path, 'state'));
  mkdirSync(join(tmp.path, 'cache'));
  env = {
    PATH: '/usr/bin:/bin',
    HOME: tmp.path,
    FAULTLINE_STATE_DIR: join(tmp.path, 'state'),
    FAULTLINE_CACHE: join(tmp.path, 'cache'),
    KUBECONFIG: kubeconfig,
  };
});
afterAll(() => tmp.cleanup());

function cli(args: string[], extraEnv: NodeJS.ProcessEnv = {}) {
  const res = spawnSync(process.execPath, [MAIN, ...args], { env: { ...env, ...extraEnv }, encoding: 'utf8', timeout: 30_000 });
  return { code: res.status, stdout: res.stdout, stderr: res.stderr, lines: res.stderr.split('\n').filter(Boolean) };
}

function expectBadInput(r: ReturnType<typeof cli>, pattern: RegExp): void {
  expect(r.lines).toHaveLength(1);
  expect(r.lines[0]).toMatch(/^faultline: .+; .+$/);
  expect(r.lines[0]).toMatch(pattern);
  expect(r.code).toBe(2);
}

describe('CLI bad input (built CLI, no cluster)', () => {
  test('unknown scenario', () => {
    expectBadInput(cli(['run', 'no-such-scenario']), /unknown scenario "no-such-scenario"/);
    expectBadInput(cli(['run', '--all', '--parallel', '0']), /--parallel "0" is not a whole number from 1 to 8/);
    expectBadInput(cli(['bench', '--parallel', 'two']), /--parallel "two" is not a whole number from 1 to 8/);
  });

  test('drill: a bad deadline, several scenarios, a self-healing one; --prometheus that does not answer', () => {
    expectBadInput(cli(['drill', 'statefulset-env-conflict', '--deadline', '5x']), /--deadline "5x": not a duration/);
    expectBadInput(cli(['drill', 'statefulset-env-conflict', 'etcd-slow-disk']), /too many arguments/);
    expectBadInput(cli(['drill', 'registry-outage-working-fallback']), /recovers on its own: there is nothing for people to fix/);
    expectBadInput(cli(['run', 'etcd-slow-disk', '--prometheus', 'http://127.0.0.1:1']), /--prometheus http:\/\/127\.0\.0\.1:1: cannot read its rules/);
    expectBadInput(cli(['run', 'etcd-slow-disk', '--prometheus', 'http://127.0.0.1:1', '--alerts']), /--alerts deploys a stack and --prometheus reads yours/);
  });

  test('unknown flag', () => {
    expectBadInput(cli(['run', '--frobnicate']), /unknown option '--frobnicate'/);
    expectBadInput(cli(['doctor', '-o', 'yaml']), /--output must be one of text, json, markdown/);
  });

  test('malformed scenario file (temp scenarios dir)', () => {
    const dir = join(tmp.path, 'scenarios');
    cpSync(join(repoRoot(), 'scenarios', 'statefulset-env-conflict'), join(dir, 'statefulset-env-conflict'), { recursive: true });
    const file = join(dir, 'statefulset-env-conflict', 'scenario.yaml');
    writeFileSync(file, readFileSync(file, 'utf8').replace(/^detect:/m, 'detectx:'));
    const r = cli(['run', 'statefulset-env-conflict'], { FAULTLINE_SCENARIOS_DIR: dir });
    expectBadInput(r, /statefulset-env-conflict\/scenario.yaml: /);
    expect(r.lines[0]).toMatch(/detect/);
  });

  test('unreachable context: doctor and run both stop before any change', () => {
    expectBadInput(cli(['doctor', '--context', 'dead']), /cluster at https:\/\/127\.0\.0\.1:1 \(context "dead"\) is unreachable/);
    expectBadInput(cli(['run', 'statefulset-env-conflict', '--context', 'dead', '--allow-context', 'dead']), /is unreachable/);
    expect(existsSync(join(tmp.path, 'state', 'journal'))).toBe(false);
  });

  test('injection into a context not created by faultline needs --allow-context', () => {
    expectBadInput(cli(['run', 'statefulset-env-conflict', '--context', 'dead']), /refusing to inject into context "dead".*--allow-context dead/);
    expectBadInput(cli(['inject', 'statefulset-env-conflict', '--context', 'dead']), /refusing to inject/);
  });

  test('node access on inject as on run: a mode it does not know; agents on an existing context without an image', () => {
    for (const cmd of ['run', 'inject']) {
      expectBadInput(cli([cmd, 'etcd-slow-disk', '--context', 'dead', '--allow-context', 'dead', '--node-access', 'sideways']), /--node-access/);
      expectBadInput(cli([cmd, 'etcd-slow-disk', '--context', 'dead', '--allow-context', 'dead', '--node-access', 'agent']), /--node-access agent on an existing cluster needs --agent-image/);
    }
    expect(existsSync(join(tmp.path, 'state', 'journal'))).toBe(false);
  });

  test('unknown context and missing kind binary', () => {
    expectBadInput(cli(['doctor', '--context', 'nope']), /context "nope" is not in/);
    expectBadInput(cli(['run', 'statefulset-env-conflict']), /kind not found/);
  });

  test('other bad input: unknown runbook, foreign report file, unknown cluster', () => {
    expectBadInput(cli(['runbook', 'nope']), /unknown runbook "nope"/);
    const notReport = join(tmp.path, 'x.json');
    writeFileSync(notReport, '{"hello": 1}');
    expectBadInput(cli(['report', notReport]), /not a faultline report/);
    expectBadInput(cli(['cluster', 'down', 'ghost']), /no faultline cluster named "ghost"/);
    expectBadInput(cli(['cluster', 'check', 'ghost']), /no faultline cluster named "ghost"/);
    expectBadInput(cli(['cluster', 'check', 'ghost', '--within', 'soon']), /--within must be a number of seconds/);
  });

  test('report merge writes the merged files into a new --report-dir; shard and durations input is checked first', () => {
    // a report as `run --report-dir` writes it (made here: a fake, not a run)
    const shard = (n: number, id: string) => {
      const dir = join(tmp.path, `shard-${n}`);
      mkdirSync(dir, { recursive: true });
      const sc = { id, title: id, status: 'passed', ttdSeconds: 1, ttrSeconds: 1, standardAlert: { name: 'X', waitSeconds: 1 }, stages: [], findings: [], integrity: [] };
      writeFileSync(join(dir, 'report.json'), JSON.stringify({ schemaVersion: 1, tool: { name: 'faultline', version: '0' }, runId: `r${n}`, startedAt: 'a', endedAt: 'b', cluster: { provider: 'kind', name: `c${n}` }, scenarios: [sc] }));
      return dir;
    };
    const out = join(tmp.path, 'merged', 'deeper');
    const r = cli(['report', 'merge', shard(1, 'a'), shard(2, 'b'), '--report-dir', out, '-o', 'json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')).scenarios.map((s: { id: string }) => s.id)).toEqual(['a', 'b']);
    for (const f of ['junit.xml', 'report.md', 'report.html']) expect(existsSync(join(out, f))).toBe(true);
    expectBadInput(cli(['report', 'merge', shard(1, 'a'), shard(3, 'a')]), /scenario a is in both/);
    expectBadInput(cli(['run', '--all', '--shard', '0/2']), /is not I\/N/);
    expectBadInput(cli(['run', '--all', '--durations', shard(1, 'a')]), /--durations needs --shard/);
    expectBadInput(cli(['run', '--all', '--shard', '1/2', '--durations', join(tmp.path, 'nope.json')]), /does not exist/);
  });

  test('help on every command answers with examples; list and runbook work without a cluster', () => {
    for (const cmd of [[], ['run'], ['drill'], ['doctor'], ['inject'], ['recover'], ['runbook'], ['cluster', 'up'], ['cluster', 'down'], ['cluster', 'check'], ['report'], ['report', 'merge'], ['list']]) {
      const r = cli([...cmd, '--help']);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain('Examples:');
    }
    const list = cli(['list']);
    expect(list.code).toBe(0);
    expect(list.stdout).toContain('statefulset-env-conflict');
    const rb = cli(['runbook', 'statefulset-env-conflict']);
    expect(rb.code).toBe(0);
    expect(rb.stdout).toMatch(/^# Runbook: StatefulSet env var sets both value and valueFrom/);
  });

  test('an empty value is refused, never read as "absent"', () => {
    // a journal of a killed run: `recover --run ''` once took it for "every run"
    const journals = join(tmp.path, 'state', 'journal');
    mkdirSync(journals, { recursive: true });
    const journal = { runId: 'run-left', pid: 999_999_999, startedAt: 'then', cluster: { provider: 'kind', name: 'faultline-gone', context: 'kind-faultline-gone', kubeconfigPath: '/k', createdByFaultline: true }, entries: [{ id: 'e1', faultType: 'statefulset-env-conflict', params: {}, record: {}, state: 'applied', at: 'then' }] };
    writeFileSync(join(journals, 'run-left.json'), JSON.stringify(journal));
    expectBadInput(cli(['recover', '--run', '']), /--run was given an empty value/);
    expect(JSON.parse(readFileSync(join(journals, 'run-left.json'), 'utf8'))).toEqual(journal);
    expectBadInput(cli(['run', 'statefulset-env-conflict', '--context', '']), /--context was given an empty value/);
    expectBadInput(cli(['doctor', '--context', ' ']), /--context was given an empty value/);
    expectBadInput(cli(['inject', 'statefulset-env-conflict', '--cluster', '']), /--cluster was given an empty value/);
    expectBadInput(cli(['run', 'statefulset-env-conflict', '--allow-context', 'x', '--allow-context', '']), /--allow-context was given an empty value/);
    expectBadInput(cli(['run', '']), /given an empty argument/);
    rmSync(journals, { recursive: true });
  });

  test('a --report-dir that cannot be written is refused before anything else, and never hangs', () => {
    expectBadInput(cli(['run', 'statefulset-env-conflict', '--report-dir', '/proc/self/faultline-reports']), /--report-dir \/proc\/self\/faultline-reports: is in a kernel file system/);
    const file = join(tmp.path, 'a-file');
    writeFileSync(file, 'x');
    expectBadInput(cli(['run', 'statefulset-env-conflict', '--report-dir', file]), /--report-dir .*a-file: is not a directory/);
    expectBadInput(cli(['run', 'statefulset-env-conflict', '--report-dir', join(file, 'sub')]), /--report-dir .*a-file\/sub: cannot be created \(.*a-file is not a directory\)/);
  });

  test('alert flags: a bad expectation, an undefined alert, a missing or bad rule file are refused before anything', () => {
    expectBadInput(cli(['run', 'etcd-slow-disk', '--expect-alert', 'not a name']), /--expect-alert "not a name": not NAME or NAME=SECONDS/);
    expectBadInput(cli(['run', 'etcd-slow-disk', '--expect-alert', 'NoSuchAlert=60']), /expected alert NoSuchAlert defined by no rule of the run/);
    expectBadInput(cli(['run', 'etcd-slow-disk', '--alert-rules', join(tmp.path, 'missing.yaml')]), /--alert-rules .*missing\.yaml: does not exist/);
    const bad = join(tmp.path, 'bad-rules.yaml');
    writeFileSync(bad, 'groups:\n  - name: g\n    rules:\n      - alert: Broken\n        expr: "sum(("\n');
    // promtool from the forge when it is there; without it, that is the one line
    const promtool = join(process.env.FAULTLINE_CACHE ?? join(process.env.HOME ?? '', '.cache', 'faultline'), 'bin', 'current', 'promtool');
    const r = cli(['run', 'etcd-slow-disk', '--alert-rules', bad], existsSync(promtool) ? { FAULTLINE_PROMTOOL: promtool } : {});
    expectBadInput(r, existsSync(promtool) ? /bad-rules\.yaml: promtool check rules: / : /promtool not found/);
  });

  test('recover names an unreadable journal and exits 1: something is left it could not check', () => {
    const journals = join(tmp.path, 'state', 'journal');
    mkdirSync(journals, { recursive: true });
    writeFileSync(join(journals, 'run-torn.json'), '{"runId": "run-to');
    const r = cli(['recover']);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^unreadable journal .*run-torn\.json: not JSON/m);
    expect(r.stdout).toMatch(/^left open: 1 unreadable journal\(s\)$/m);
    rmSync(journals, { recursive: true });
  });

  test('cluster down takes a name or --all, not both', () => {
    expectBadInput(cli(['cluster', 'down', 'x', '--all']), /both a name and --all given/);
    expectBadInput(cli(['cluster', 'down']), /no cluster named/);
  });

  test('recover with nothing to do exits 0', () => {
    const r = cli(['recover']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('nothing to recover\n');
  });
});
