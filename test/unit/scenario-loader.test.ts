// Scenario files: the shipped one loads; broken copies in a temp dir give one line naming file and field.
import { afterEach, beforeEach, describe, expect, test } from '@jest/globals';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../../harness/core/errors.js';
import { repoRoot } from '../../harness/core/paths.js';
import { builtinRegistries } from '../../harness/engine/registries.js';
import { listScenarioIds, loadScenario, parseFaultParams, resolveScenarios, withFaultParams } from '../../harness/engine/scenario-loader.js';
import { tempDir } from './helpers/tmp.js';

const ID = 'statefulset-env-conflict';
const registries = builtinRegistries();
let tmp: ReturnType<typeof tempDir>;
let dir: string;
let original: string;

beforeEach(() => {
  tmp = tempDir();
  dir = join(tmp.path, ID);
  cpSync(join(repoRoot(), 'scenarios', ID), dir, { recursive: true });
  original = readFileSync(join(dir, 'scenario.yaml'), 'utf8');
});
afterEach(() => tmp.cleanup());

function errorOf(fn: () => unknown): UserError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(UserError);
    return err as UserError;
  }
  throw new Error('expected a UserError');
}

function withFile(text: string): UserError {
  writeFileSync(join(dir, 'scenario.yaml'), text);
  const err = errorOf(() => loadScenario(dir, registries));
  expect(err.message.split('\n')).toHaveLength(1);
  expect(err.message).toContain(join(ID, 'scenario.yaml'));
  return err;
}

describe('scenario loader', () => {
  test('the shipped scenario is valid and resolved', () => {
    const sc = loadScenario(join(repoRoot(), 'scenarios', ID), registries);
    expect(sc.id).toBe(ID);
    expect(sc.victim.namespace).toBe('harbor');
    expect(sc.fault.type).toBe('statefulset-env-conflict');
    expect(sc.detect.expect).toEqual(['statefulset-env-conflict']);
    expect(sc.manifestPaths.map((p) => p.split('/').pop())).toEqual(['secret.yaml', 'postgresql.yaml', 'core.yaml']);
    expect(sc.clusterConfigPath).toBe(join(repoRoot(), 'kind-configs', 'one-worker.yaml'));
    expect(sc.stageDeadlines.detect).toBe(120);
    expect(sc.stageDeadlines.deploy).toBe(420);
    expect(sc.stageDeadlines.inject).toBe(60); // default
    expect(sc.standardAlert).toEqual({ name: 'KubeStatefulSetReplicasMismatch', waitSeconds: 900 });
    expect(listScenarioIds(join(repoRoot(), 'scenarios'))).toContain(ID);
  });

  test('malformed YAML names the position', () => {
    const err = withFile(original.replace('victim:', 'victim: [unclosed'));
    expect(err.message).toMatch(/invalid YAML at line \d+ column \d+/);
  });

  test('a missing field is named', () => {
    const err = withFile(original.replace(/^standardAlert:[\s\S]*$/m, ''));
    expect(err.message).toMatch(/field standardAlert: /);
  });

  test('a nested wrong type is named with its path', () => {
    const err = withFile(original.replace('deadlineSeconds: 120', 'deadlineSeconds: soon'));
    expect(err.message).toMatch(/field detect\.deadlineSeconds: /);
  });

  test('unknown fields, unknown fault types and bad fault params are rejected', () => {
    expect(withFile(original + '\ntypo: 1\n').message).toMatch(/typo/);
    expect(withFile(original.replace('type: statefulset-env-conflict', 'type: nope')).message).toMatch(/field fault.type: unknown fault "nope"/);
    expect(withFile(original.replace('    secretKey: postgres-password\n', '')).message).toMatch(/field fault.params.secretKey/);
    expect(withFile(original.replace('expect: [statefulset-env-conflict]', 'expect: [statefulset-env-conflict, nope]')).message).toMatch(
      /field detect.expect\[1\]: unknown detector "nope"/,
    );
  });

  test('the id must match the folder; missing manifests are named', () => {
    expect(withFile(original.replace(`id: ${ID}`, 'id: other')).message).toMatch(/must equal the folder name/);
    expect(withFile(original.replace('manifests/core.yaml', 'manifests/gone.yaml')).message).toMatch(/field victim.manifests\[2\]: manifests\/gone.yaml does not exist/);
  });

  test('unknown scenario ids are bad input', () => {
    const err = errorOf(() => resolveScenarios(['nope'], false, registries, tmp.path));
    expect(err.message).toBe('unknown scenario "nope"; run `faultline list` to see the 1 known scenario(s)');
    expect(resolveScenarios([], true, registries, tmp.path).map((s) => s.id)).toEqual([ID]);
  });
});

describe('--fault-param overrides', () => {
  const slowDisk = () => loadScenario(join(repoRoot(), 'scenarios', 'etcd-slow-disk'), registries);

  test('values are YAML scalars and replace the file value; the file is untouched', () => {
    expect(parseFaultParams(['delayMs=2000', 'node=faultline-x-control-plane', 'flag=true'])).toEqual({ delayMs: 2000, node: 'faultline-x-control-plane', flag: true });
    const sc = slowDisk();
    const over = withFaultParams(sc, { delayMs: 2000 }, registries);
    expect(over.fault.params).toEqual({ ...sc.fault.params, delayMs: 2000 });
    expect(slowDisk().fault.params).toEqual(sc.fault.params);
    expect(withFaultParams(sc, {}, registries)).toBe(sc);
  });

  test('a malformed pair, an unknown key or a value the fault refuses is one line of bad input', () => {
    expect(errorOf(() => parseFaultParams(['delayMs'])).message).toMatch(/^--fault-param "delayMs" is not key=value/);
    expect(errorOf(() => withFaultParams(slowDisk(), { delay: 5 }, registries)).message).toMatch(/^--fault-param delay: fault etcd-fsync-delay has no such parameter \(known: mechanism, delayMs, writeIops, node\)/);
    expect(errorOf(() => withFaultParams(slowDisk(), { delayMs: 20_000 }, registries)).message).toMatch(/^--fault-param delayMs: Too big/);
    expect(errorOf(() => withFaultParams(slowDisk(), { delayMs: 'slow' }, registries)).message).toMatch(/^--fault-param delayMs: Invalid input/);
  });
});
