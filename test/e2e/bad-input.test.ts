// End to end, no cluster: the built CLI on this real machine (its PATH, HOME, kind and Docker, unlike the unit
// test test/unit/cli.test.ts, which hides them) refuses bad input with exactly one stderr line `faultline: ...`
// and exit 2, before creating anything: `kind get clusters` is unchanged and the (temp) state dir stays empty.
// `npm run build` first.
// e2e: alone (lanes.js runs it before any other file: a cluster another file makes meanwhile would look like its own)
import { afterAll, beforeAll, describe, expect, jest, test } from '@jest/globals';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { findBinary } from '../../harness/cluster/binaries.js';
import { repoRoot } from '../../harness/core/paths.js';
import { writeUnreachableKubeconfig } from '../helpers/kubeconfig.js';
import { assertBuilt, e2eTempDir, kindClusters, runCli, type CliResult } from './support.js';

jest.setTimeout(5 * 60_000);

const tmp = e2eTempDir('bad');
const stateDir = join(tmp, 'state');
const env = { FAULTLINE_STATE_DIR: stateDir };
let clustersBefore: string[];

function expectBadInput(r: CliResult, pattern: RegExp): void {
  expect(r.lines).toHaveLength(1);
  expect(r.lines[0]).toMatch(/^faultline: /);
  expect(r.lines[0]).toMatch(pattern);
  expect(r.code).toBe(2);
  expect(r.stdout).toBe('');
}

beforeAll(async () => {
  assertBuilt();
  // the point is the real machine: kind and Docker are there, so nothing but the validation stops a run
  expect(findBinary('kind', 'FAULTLINE_KIND')).toBeDefined();
  mkdirSync(stateDir);
  clustersBefore = await kindClusters();
});

afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('bad input to the built CLI on the real machine: one line, exit 2, nothing created', () => {
  test('unknown scenario', async () => {
    expectBadInput(await runCli(['run', 'no-such-scenario'], env), /unknown scenario "no-such-scenario"/);
  });

  test('unknown flag', async () => {
    expectBadInput(await runCli(['run', 'statefulset-env-conflict', '--frobnicate'], env), /unknown option '--frobnicate'/);
    expectBadInput(await runCli(['doctor', '--frobnicate'], env), /unknown option '--frobnicate'/);
  });

  test('malformed scenario file in FAULTLINE_SCENARIOS_DIR', async () => {
    const dir = join(tmp, 'scenarios');
    const sc = join(dir, 'statefulset-env-conflict');
    cpSync(join(repoRoot(), 'scenarios', 'statefulset-env-conflict'), sc, { recursive: true });
    const file = join(sc, 'scenario.yaml');
    const good = readFileSync(file, 'utf8');
    // not YAML at all: an unclosed flow sequence
    writeFileSync(file, good.replace(/^ {2}expect: \[statefulset-env-conflict\]$/m, '  expect: [statefulset-env-conflict'));
    expect(readFileSync(file, 'utf8')).not.toBe(good);
    const syntax = await runCli(['run', 'statefulset-env-conflict'], { ...env, FAULTLINE_SCENARIOS_DIR: dir });
    expectBadInput(syntax, /statefulset-env-conflict\/scenario\.yaml/);
    // valid YAML, wrong field
    writeFileSync(file, good.replace(/^detect:/m, 'detectx:'));
    const field = await runCli(['run', 'statefulset-env-conflict'], { ...env, FAULTLINE_SCENARIOS_DIR: dir });
    expectBadInput(field, /statefulset-env-conflict\/scenario\.yaml: .*detect/);
  });

  test('unreachable context (a kubeconfig whose server is https://127.0.0.1:1)', async () => {
    const kubeconfig = writeUnreachableKubeconfig(join(tmp, 'kubeconfig'));
    const kenv = { ...env, KUBECONFIG: kubeconfig };
    expectBadInput(await runCli(['doctor', '--context', 'dead'], kenv), /cluster at https:\/\/127\.0\.0\.1:1 \(context "dead"\) is unreachable/);
    expectBadInput(await runCli(['doctor'], kenv), /is unreachable/);
    const run = await runCli(['run', 'statefulset-env-conflict', '--context', 'dead', '--allow-context', 'dead', '--provider', 'existing'], kenv);
    expectBadInput(run, /cluster at https:\/\/127\.0\.0\.1:1 \(context "dead"\) is unreachable/);
  });

  test('a fault param the fault refuses, on run, inject and bench', async () => {
    expectBadInput(await runCli(['run', 'etcd-slow-disk', '--fault-param', 'delayMs=20000'], env), /--fault-param delayMs: Too big/);
    expectBadInput(await runCli(['run', 'etcd-slow-disk', '--fault-param', 'delay=50'], env), /fault etcd-fsync-delay has no such parameter/);
    expectBadInput(await runCli(['inject', 'etcd-slow-disk', '--fault-param', 'delayMs=soon', '--cluster', 'faultline-none'], env), /--fault-param delayMs: Invalid input/);
    expectBadInput(await runCli(['bench', 'etcd-slow-disk', '--fault-param', 'delayMs', '--out', join(tmp, 'bench')], env), /is not key=value/);
  });

  test('a bad value for the hold-after-apply test hook is bad input too', async () => {
    expectBadInput(
      await runCli(['run', 'statefulset-env-conflict'], { ...env, FAULTLINE_TEST_HOLD_AFTER_APPLY_MS: 'soon' }),
      /FAULTLINE_TEST_HOLD_AFTER_APPLY_MS must be a whole number/,
    );
  });

  test('nothing was created: kind get clusters unchanged, no journal, no cluster record, no kubeconfig', async () => {
    expect(await kindClusters()).toEqual(clustersBefore);
    expect(readdirSync(stateDir)).toEqual([]);
    expect(existsSync(join(stateDir, 'journal'))).toBe(false);
  });
});
