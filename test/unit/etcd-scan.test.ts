// Engine pieces the etcd scenarios rely on: scanAll keeps node-level findings while API-based detectors fail,
// and the two etcd scenarios load with their kube-system detection namespace and capability needs.
import { describe, expect, test } from '@jest/globals';
import { join } from 'node:path';
import { scan, scanAll, type DetectorRegistry } from '../../harness/detectors/registry.js';
import type { Detector, Finding } from '../../harness/detectors/types.js';
import { builtinRegistries } from '../../harness/engine/registries.js';
import { repoRoot } from '../../harness/core/paths.js';
import { loadScenario } from '../../harness/engine/scenario-loader.js';
import { missingCapability } from '../../harness/engine/suite.js';

const finding: Finding = { detector: 'node', severity: 'critical', summary: 's', rootCause: 'r', evidence: [], runbook: 'x', resources: ['kube-system/Pod/etcd-a'] };
const apiDown: Detector<unknown> = { id: 'api', description: '', collect: async () => { throw new Error('connection refused'); }, analyze: () => [] };
const nodeFinds: Detector<unknown> = { id: 'node', description: '', collect: async () => ({}), analyze: () => [finding] };
const nodeQuiet: Detector<unknown> = { id: 'quiet', description: '', collect: async () => ({}), analyze: () => [] };
const ctx = { kube: {} as any };

describe('scanAll with a failing detector', () => {
  test('findings of detectors that could look are kept', async () => {
    const reg: DetectorRegistry = new Map([['api', apiDown], ['node', nodeFinds]]);
    expect(await scanAll(ctx, reg)).toEqual([finding]);
  });

  test('nothing found while a detector failed is an error, not "quiet"', async () => {
    const reg: DetectorRegistry = new Map([['api', apiDown], ['quiet', nodeQuiet]]);
    await expect(scanAll(ctx, reg)).rejects.toThrow('connection refused');
  });

  test('every detector error is kept, not only the first', async () => {
    const certsDown: Detector<unknown> = { id: 'certs', description: '', collect: async () => { throw new Error('no node access'); }, analyze: () => [] };
    const reg: DetectorRegistry = new Map([['api', apiDown], ['certs', certsDown], ['node', nodeFinds]]);
    const res = await scan(ctx, reg);
    expect(res).toMatchObject({ findings: [finding], errors: [{ detector: 'api', message: 'connection refused' }, { detector: 'certs', message: 'no node access' }] });
    // every detector's collect time, the failed ones' too
    expect(Object.keys(res.collectSeconds).sort()).toEqual(['api', 'certs', 'node']);
    const quiet: DetectorRegistry = new Map([['api', apiDown], ['certs', certsDown]]);
    await expect(scanAll(ctx, quiet)).rejects.toThrow('detector api: connection refused; detector certs: no node access');
  });
});

describe('etcd scenarios', () => {
  const registries = builtinRegistries();
  for (const id of ['etcd-slow-disk', 'etcd-liveness-kill']) {
    test(`${id} loads, detects in kube-system, and is skipped where nodes cannot be reached`, () => {
      const sc = loadScenario(join(repoRoot(), 'scenarios', id), registries);
      expect(sc.detect.namespace).toBe('kube-system');
      expect(sc.cluster.needs).toEqual(expect.arrayContaining(['kubeadm', 'nodeExec']));
      expect(missingCapability(sc, { nodeExec: false, nodeExecWithoutApi: false, hostPid: false, kubeadm: false, create: false })).toMatch(/^needs kubeadm, nodeExec/);
      expect(missingCapability(sc, { nodeExec: true, nodeExecWithoutApi: true, hostPid: true, kubeadm: true, create: true })).toBeUndefined();
    });
  }
});
