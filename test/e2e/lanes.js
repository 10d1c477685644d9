// Runs the e2e files in lanes: one jest process per lane, the lanes at the same time. Most of an e2e file's time is
// spent waiting on a real cluster (a kubelet replacing a static pod, a stable window, an alert's `for:`), not
// computing, so two lanes on two cores take little more than the longer one. Each lane is a jest run of its own,
// with its own pool of shared clusters (global-setup.js) and the order of sequencer.js within it.
//
// A file marked `// e2e: alone` (it proves that no cluster appears while it runs) runs first, by itself.
// FAULTLINE_E2E_LANES=1 runs every file in one lane, one after another. `--list` prints the lanes and runs nothing.
//
// Output: each lane's lines, prefixed with its name, as they come; then each lane's summary and one line over
// them all, "e2e: N passed, N failed, N skipped", which is what CI reads.
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { createInterface } from 'node:readline';

const root = process.cwd();
const dir = join(root, 'test', 'e2e');
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.test.ts'))
  .sort()
  .map((f) => join(dir, f));
const text = (f) => readFileSync(f, 'utf8');

// Two lanes of about the same length (file times from the last serial run on the 2-core VM: stop 21's CI and the
// agent file's first CI run, in s). `control-plane`: the files whose faults hold etcd and the control plane on the
// shared single-node cluster (alerts 429, etcd 352, node-agent 655, certs-control-plane 68), and etcd-ha, whose
// three control planes make its own cluster (158 s in its first run, 2026-12-03). `rest`: everything
// else (the 1+1 files, those that make their own cluster, and the single-node API-level scenarios, 478 s, on a
// single-node cluster of the lane's own pool), about 1,450 s.
const CONTROL_PLANE = ['alerts', 'certs-control-plane', 'etcd-ha', 'etcd-scenarios', 'node-agent'].map((n) => `${n}.test.ts`);
const LANES = [
  { name: 'control-plane', takes: (f) => CONTROL_PLANE.some((n) => f.endsWith(`/${n}`)) },
  { name: 'rest', takes: () => true },
];

function plan() {
  const alone = files.filter((f) => /^\/\/ e2e: alone\b/m.test(text(f)));
  const rest = files.filter((f) => !alone.includes(f));
  if (process.env.FAULTLINE_E2E_LANES === '1') return { alone, lanes: [{ name: 'e2e', files: rest }] };
  const lanes = LANES.map((l) => ({ name: l.name, files: [] }));
  for (const f of rest) lanes[LANES.findIndex((l) => l.takes(f))].files.push(f);
  return { alone, lanes: lanes.filter((l) => l.files.length) };
}

const children = new Set();
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    for (const c of children) c.kill(sig);
  });
}

/** One jest run over `paths`, its output prefixed with `tag` (so only the closing line over all runs reads as a
 *  summary). Resolves with its counts. */
function jest(tag, paths) {
  const t0 = Date.now();
  const child = spawn(process.execPath, [join(root, 'node_modules', 'jest', 'bin', 'jest.js'), ...paths, '--selectProjects', 'e2e', '--runInBand'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  let summary;
  for (const [stream, to] of [[child.stdout, process.stdout], [child.stderr, process.stderr]]) {
    createInterface({ input: stream }).on('line', (line) => {
      const m = /^e2e: (\d+) passed, (\d+) failed, (\d+) skipped$/.exec(line);
      if (m) summary = { passed: +m[1], failed: +m[2], skipped: +m[3] };
      to.write(`[${tag}] ${line}\n`);
    });
  }
  return new Promise((resolve) => {
    child.on('close', (code, signal) => {
      children.delete(child);
      // a jest that ended without its summary line (killed, or crashed before reporting) counts as one failure
      resolve({ tag, code: code ?? 1, signal, seconds: (Date.now() - t0) / 1000, counts: summary ?? { passed: 0, failed: 1, skipped: 0 } });
    });
  });
}

const { alone, lanes } = plan();
for (const l of [{ name: 'alone', files: alone }, ...lanes]) process.stderr.write(`[lanes] ${l.name}: ${l.files.map((f) => relative(dir, f)).join(', ')}\n`);
if (process.argv.includes('--list')) process.exit(0);
const results = [];
for (const f of alone) results.push(await jest('alone', [f]));
results.push(...(await Promise.all(lanes.map((l) => jest(l.name, l.files)))));

const total = { passed: 0, failed: 0, skipped: 0 };
for (const r of results) {
  for (const k of Object.keys(total)) total[k] += r.counts[k];
  process.stderr.write(`[lanes] ${r.tag}: ${r.counts.passed} passed, ${r.counts.failed} failed, ${r.counts.skipped} skipped in ${r.seconds.toFixed(0)} s (jest exited ${r.signal ?? r.code})\n`);
}
process.stderr.write(`\ne2e: ${total.passed} passed, ${total.failed} failed, ${total.skipped} skipped\n`);
process.exitCode = results.every((r) => r.code === 0) ? 0 : 1;
