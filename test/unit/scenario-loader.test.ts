// Scenario files: the shipped one loads; broken copies in a temp dir give one line naming file and field.
import { afterEach, beforeEach, describe, expect, test } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../../harness/core/errors.js';
import { MAX_INPUT_BYTES } from '../../harness/core/files.js';
import { sleep } from '../../harness/core/poll.js';
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

  test('an alias to no anchor is invalid YAML too (found by the CLI fuzz test)', () => {
    const err = withFile(original.replace(/config: (\S+)/, 'config: *$1'));
    expect(err).toBeInstanceOf(UserError);
    expect(err.message).toMatch(/invalid YAML: Unresolved alias/);
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

  test("runbook params are checked at load against the runbook's schema: a typo is bad input, not a late failure", () => {
    expect(withFile(original.replace('    statefulset: postgresql\n    dependants:', '    statefulsett: postgresql\n    dependants:')).message).toMatch(/field runbook\.params(\.statefulset)?: /);
    expect(withFile(original.replace('      - { kind: Deployment, name: core }', '      - { kind: Deployment, name: core, extra: 1 }')).message).toMatch(/field runbook\.params\.dependants\[0\]: Unrecognized key/);
  });

  test('isolation "namespace" is checked at load: node access, a fault elsewhere or a runbook of wider reach is refused', () => {
    expect(loadScenario(dir, registries).isolation).toBe('namespace');
    expect(withFile(original.replace('  needs: []', '  needs: [nodeExec]')).message).toMatch(/field isolation: "namespace", but it needs nodeExec: node access/);
    expect(withFile(original.replace('    namespace: harbor\n    statefulset: postgresql\n    container', '    namespace: other\n    statefulset: postgresql\n    container')).message).toMatch(
      /field isolation: "namespace", but fault.params.namespace is other, not the victim's harbor/,
    );
    expect(withFile(original.replace('runbook:\n', 'runbook:\n  exec: ./fix.sh\n')).message).toMatch(/runbook.exec is a command/);
    expect(withFile(original.replace('isolation: namespace', 'isolation: node')).message).toMatch(/field isolation: /);
    const cluster = loadScenario(join(repoRoot(), 'scenarios', 'etcd-slow-disk'), registries);
    expect(cluster.isolation).toBe('cluster');
    const etcd = readFileSync(join(repoRoot(), 'scenarios', 'etcd-slow-disk', 'scenario.yaml'), 'utf8');
    const other = join(tmp.path, 'etcd-slow-disk');
    cpSync(join(repoRoot(), 'scenarios', 'etcd-slow-disk'), other, { recursive: true });
    writeFileSync(join(other, 'scenario.yaml'), etcd.replace(/^cluster:\n/m, 'isolation: namespace\ncluster:\n'));
    expect(errorOf(() => loadScenario(other, registries)).message).toMatch(/field isolation: "namespace", but it needs kubeadm, nodeExec, hostPid/);
  });

  test('every shipped scenario loads, its runbook params included', () => {
    const root = join(repoRoot(), 'scenarios');
    for (const id of listScenarioIds(root)) expect(loadScenario(join(root, id), registries).id).toBe(id);
  });

  test('the incident is a citation a reader can follow, never a path of ours', () => {
    const cited = original.replace(/^  title: [^\n]*\n(  part: [^\n]*\n)?  site: [^\n]*\n  date: [^\n]*\n  url: [^\n]*\n/m, '  title: ../notes/postmortem.txt\n  date: 2023-07-29\n');
    expect(withFile(cited).message).toMatch(/field incident\.title: a title, not a path to a file/);
    expect(withFile(original.replace('  date: 2023-07-29', '  date: July 2023')).message).toMatch(/field incident\.date: YYYY-MM-DD or "undated"/);
    expect(withFile(original.replace(/^  site: [^\n]*\n  date: (\S+)\n  url: [^\n]*\n/m, '  date: $1\n')).message).toMatch(/field incident: a citation names an author, a site or a URL/);
    expect(withFile(original.replace(/^  url: https:/m, '  url: http:')).message).toMatch(/field incident\.url: an https URL/);
  });

  test('the id must match the folder; missing manifests are named', () => {
    expect(withFile(original.replace(`id: ${ID}`, 'id: other')).message).toMatch(/must equal the folder name/);
    expect(withFile(original.replace('manifests/core.yaml', 'manifests/gone.yaml')).message).toMatch(/field victim.manifests\[2\]: manifests\/gone.yaml does not exist/);
  });

  test('a deadline past a week is refused, since Node fires a timer over 2^31-1 ms at once', () => {
    expect(withFile(original.replace('deadlineSeconds: 120', 'deadlineSeconds: 2200000')).message).toMatch(/field detect\.deadlineSeconds: at most 604800 seconds/);
    expect(withFile(original.replace('  verify: 300\n', '  verify: 3000000\n')).message).toMatch(/field deadlines\.verify: at most 604800 seconds/);
    expect(() => sleep(2 ** 31)).toThrow(RangeError);
  });

  test('a scenario.yaml that is a FIFO, a directory or too big is named, and nothing blocks', () => {
    const file = join(dir, 'scenario.yaml');
    rmSync(file);
    execFileSync('mkfifo', [file]);
    expect(errorOf(() => loadScenario(dir, registries)).message).toMatch(/scenario\.yaml: is a FIFO, not a regular file/);
    rmSync(file);
    mkdirSync(file);
    expect(errorOf(() => loadScenario(dir, registries)).message).toMatch(/scenario\.yaml: is a directory, not a regular file/);
    rmSync(file, { recursive: true });
    writeFileSync(file, original + '#'.repeat(MAX_INPUT_BYTES));
    expect(errorOf(() => loadScenario(dir, registries)).message).toMatch(/scenario\.yaml: is \d+ bytes, more than the/);
    rmSync(file);
    expect(errorOf(() => loadScenario(dir, registries)).message).toMatch(/scenario\.yaml: does not exist/);
  });

  test('manifest and cluster.config paths stay inside the catalog (and the repository)', () => {
    expect(withFile(original.replace('manifests/core.yaml', '../../../etc/passwd')).message).toMatch(/field victim.manifests\[2\]: \.\.\/\.\.\/\.\.\/etc\/passwd lies outside/);
    symlinkSync('/etc/hostname', join(dir, 'manifests', 'link.yaml'));
    expect(withFile(original.replace('manifests/core.yaml', 'manifests/link.yaml')).message).toMatch(/field victim.manifests\[2\]: manifests\/link.yaml lies outside/);
    expect(withFile(original.replace('config: kind-configs/one-worker.yaml', 'config: /etc/hostname')).message).toMatch(/field cluster.config: \/etc\/hostname lies outside/);
    expect(withFile(original.replace('config: kind-configs/one-worker.yaml', 'config: kind-configs/nope.yaml')).message).toMatch(/field cluster.config: kind-configs\/nope.yaml does not exist/);
  });

  test('a manifest that is not YAML, or an object without kind, is refused at load, before any cluster exists', () => {
    writeFileSync(join(dir, 'manifests', 'core.yaml'), 'kind: [unclosed\n');
    expect(withFile(original).message).toMatch(/field victim.manifests\[2\]: .*core\.yaml: invalid YAML/);
    writeFileSync(join(dir, 'manifests', 'core.yaml'), 'metadata: {name: x}\n');
    expect(withFile(original).message).toMatch(/field victim.manifests\[2\]: .*core\.yaml: every object needs apiVersion, kind and metadata.name/);
    rmSync(join(dir, 'manifests', 'core.yaml'));
    execFileSync('mkfifo', [join(dir, 'manifests', 'core.yaml')]);
    expect(withFile(original).message).toMatch(/field victim.manifests\[2\]: manifests\/core.yaml is a FIFO/);
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
    expect(errorOf(() => parseFaultParams(['node=*x'])).message).toMatch(/^--fault-param value "\*x": invalid YAML: Unresolved alias/);
    expect(errorOf(() => withFaultParams(slowDisk(), { delay: 5 }, registries)).message).toMatch(/^--fault-param delay: fault etcd-fsync-delay has no such parameter \(known: mechanism, delayMs, writeIops, node\)/);
    expect(errorOf(() => withFaultParams(slowDisk(), { delayMs: 20_000 }, registries)).message).toMatch(/^--fault-param delayMs: Too big/);
    expect(errorOf(() => withFaultParams(slowDisk(), { delayMs: 'slow' }, registries)).message).toMatch(/^--fault-param delayMs: Invalid input/);
  });

  test("TYPE.key overrides a set-up fault's param, checked by that fault's schema; the fault's own are untouched", () => {
    const sc = loadScenario(join(repoRoot(), 'scenarios', 'registry-outage-broken-fallback'), registries);
    const over = withFaultParams(sc, { 'registry-upstream.existing': true, fallback: 'working' }, registries);
    expect(over.victim.setup[0]!.params).toEqual({ ...sc.victim.setup[0]!.params, existing: true });
    expect(over.fault.params).toEqual({ ...sc.fault.params, fallback: 'working' });
    expect(sc.victim.setup[0]!.params.existing).toBeUndefined();
    expect(errorOf(() => withFaultParams(sc, { 'registry-upstream.exists': true }, registries)).message).toMatch(/^--fault-param registry-upstream\.exists: fault registry-upstream has no such parameter \(known: registry, network, alias, image, images, existing\); see /);
    expect(errorOf(() => withFaultParams(sc, { 'registry-upstream.existing': 'yes' }, registries)).message).toMatch(/^--fault-param registry-upstream\.existing: Invalid input/);
    // a prefix that is no set-up fault's type is a key of the fault itself, and refused as one
    expect(errorOf(() => withFaultParams(sc, { 'node-agent.image': 'x' }, registries)).message).toMatch(/^--fault-param node-agent\.image: fault registry-mirror-outage has no such parameter \(known: .*; a set-up fault's as TYPE\.key, TYPE one of registry-upstream\); see /);
  });
});
