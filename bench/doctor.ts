// `make bench-doctor`: the doctor corpus (test/corpus) on a new kind cluster; prints recall, precision and the scan
// time of `faultline doctor`, per class and in all, and what was missed or found in excess. Measures and prints;
// it asserts nothing (the e2e suite does).
import * as k8s from '@kubernetes/client-node';
import { join } from 'node:path';
import { benchEnv, cliWith, machineLine } from './common.js';
import { applyCorpus, loadCorpus, score, type Score } from './corpus.js';

const cli = cliWith(benchEnv('doctor'));

async function main(): Promise<number> {
  const cases = loadCorpus();
  const name = `faultline-bench-doctor-${process.pid}`;
  console.log(machineLine());
  console.log(`bench-doctor: ${cases.length} cases (${cases.filter((c) => c.expect.length).length} broken, ${cases.filter((c) => !c.expect.length).length} healthy)`);
  const up = await cli(['cluster', 'up', '--name', name]);
  if (up.exitCode !== 0) throw new Error(`cluster up failed: ${up.stderr.trim().split('\n').pop()}`);
  try {
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(/^kubeconfig (.+)$/m.exec(up.stdout)![1]!);
    await applyCorpus(kc, name, cases);
    const until = Date.now() + 6 * 60_000;
    let s: Score;
    let seconds = 0;
    for (;;) {
      const t0 = Date.now();
      const d = await cli(['doctor', '--cluster', name, '-o', 'json']);
      seconds = (Date.now() - t0) / 1000;
      s = score(cases, JSON.parse(d.stdout).findings);
      if ((s.missed.length === 0 && s.extra.length === 0) || Date.now() > until) break;
      await new Promise((r) => setTimeout(r, 20_000));
    }
    console.log('class                  expected  found');
    for (const [cls, v] of Object.entries(s.byClass)) console.log(`${cls.padEnd(22)} ${String(v.expected).padStart(8)} ${String(v.found).padStart(6)}`);
    console.log(`recall ${s.recall.toFixed(3)}  precision ${s.precision.toFixed(3)}  scan ${seconds.toFixed(1)} s (faultline doctor, whole cluster, wall time of the last scan)`);
    if (s.missed.length) console.log(`missed:\n  ${s.missed.join('\n  ')}`);
    if (s.extra.length) console.log(`extra:\n  ${s.extra.join('\n  ')}`);
    return 0;
  } finally {
    await cli(['cluster', 'down', name]);
  }
}

main().then(
  (code) => process.exit(code),
  (err: Error) => {
    console.error(`bench-doctor: ${err.message}`);
    process.exit(2);
  },
);
