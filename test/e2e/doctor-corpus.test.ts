// End to end: the doctor corpus (test/corpus, format in its README) applied to the shared 1+1 kind cluster
// (cluster-pool.ts), each case in a namespace of its own; then `faultline doctor -o json` as a user runs it, scored
// against what each case expects. Recall and precision must be at least 0.95. The cases' namespaces are deleted afterwards.
import { afterAll, beforeAll, describe, expect, jest, test } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { join } from 'node:path';
import { applyCorpus, loadCorpus, removeCorpus, score, type Score } from '../../bench/corpus.js';
import { assertBuilt, e2eTempDir, runCli, type CliProcess } from './support.js';
import { sharedCluster } from './cluster-pool.js';

jest.setTimeout(40 * 60_000);

const shared = sharedCluster('one-worker');
const tmp = e2eTempDir('corpus');
const { stateDir, env, name } = shared;
const started: CliProcess[] = [];
let kc: k8s.KubeConfig;
const cases = loadCorpus();

beforeAll(async () => {
  assertBuilt();
  const kubeconfig = await shared.acquire();
  kc = new k8s.KubeConfig();
  kc.loadFromFile(kubeconfig);
  await applyCorpus(kc, name, cases, (m) => console.log(`[corpus] ${m}`));
});

afterAll(async () => {
  if (kc && !process.env.FAULTLINE_KEEP_CLUSTER) await removeCorpus(kc, cases);
  await shared.release({ started, tmp });
});

describe('doctor on the corpus', () => {
  test('the corpus has at least 30 broken and 8 healthy cases, over every class', () => {
    expect(cases.filter((c) => c.expect.length > 0).length).toBeGreaterThanOrEqual(30);
    expect(cases.filter((c) => c.expect.length === 0).length).toBeGreaterThanOrEqual(8);
    expect(new Set(cases.map((c) => c.class)).size).toBeGreaterThanOrEqual(6);
  });

  test('recall and precision are at least 0.95', async () => {
    // failures take their time to show (restarts back off, the scheduler's grace minute): scan until every
    // expectation is met or six minutes have passed, and score the last scan
    const until = Date.now() + 6 * 60_000;
    let s: Score;
    for (;;) {
      const d = await runCli(['doctor', '--cluster', name, '-o', 'json'], env, 3 * 60_000, 'doctor');
      s = score(cases, JSON.parse(d.stdout).findings);
      if ((s.missed.length === 0 && s.extra.length === 0) || Date.now() > until) break;
      await new Promise((r) => setTimeout(r, 20_000));
    }
    console.log(`[corpus] recall ${s.recall.toFixed(3)} precision ${s.precision.toFixed(3)}\n  missed:\n    ${s.missed.join('\n    ') || '-'}\n  extra:\n    ${s.extra.join('\n    ') || '-'}`);
    expect(s.recall).toBeGreaterThanOrEqual(0.95);
    expect(s.precision).toBeGreaterThanOrEqual(0.95);
  });
});
