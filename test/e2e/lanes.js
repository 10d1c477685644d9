// Runs the e2e files in lanes: one jest process per lane, the lanes at the same time. Most of an e2e file's time is
// spent waiting on a real cluster (a kubelet replacing a static pod, a stable window, an alert's `for:`), not
// computing, so two lanes on two cores take little more than the longer one. Each lane is a jest run of its own,
// with its own pool of shared clusters (global-setup.js) and the order of sequencer.js within it.
//
// A file marked `// e2e: alone` (it proves that no cluster appears while it runs) runs first, by itself.
// FAULTLINE_E2E_LANES=1 runs every file in one lane, one after another. `--list` prints the lanes and runs nothing.
//
// Output: each lane's lines, prefixed with its name, as they come; then every lane's files with their times, each
// lane's counts, and every lane's failed tests (summary-reporter.js), so that a CI log's tail names every failure;
// then one line over them all, "e2e: N passed, N failed, N skipped", which is what CI reads.
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import { createInterface } from 'node:readline';

const root = process.cwd();
const dir = join(root, 'test', 'e2e');
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.test.ts'))
  .sort()
  .map((f) => join(dir, f));
const text = (f) => readFileSync(f, 'utf8');

// Each file's time in s, its shared cluster's creation not counted, from the last clean-clone CI run on the 2-core
// VM (see SECONDS_RUN; files run two lanes at once). It only balances the lanes, so a stale number costs minutes,
// never a test; a file not listed counts as UNTIMED.
const SECONDS_RUN = '2026-12-06 21:53 UTC, commit bac66ea';
const SECONDS = {
  'node-agent': 641, alerts: 434, 'single-node-scenarios': 403, 'runbook-exec': 334, 'registry-outage': 306,
  'etcd-scenarios': 282, 'etcd-ha': 235, 'statefulset-scenario': 162, 'certs-mtls': 161, 'doctor-corpus': 124,
  'doctor-and-recover': 122, 'certs-control-plane': 80, 'forge-cluster': 80, 'egress-scenario': 54,
};
const UNTIMED = 120;
// What the first file of a kind config in a lane pays to create that lane's shared cluster (cluster-pool.ts): a
// kind cluster and the wait for all of kube-system, measured by bench-forge at 46-58 s.
const CLUSTER_SECONDS = 50;
const LANE_NAMES = ['a', 'b'];
const seconds = (f) => SECONDS[basename(f, '.test.ts')] ?? UNTIMED;
/** The kind config of the shared cluster a file uses, '' for none (read as sequencer.js reads it). */
const sharedConfig = (f) => /sharedCluster\('([\w-]+)'\)/.exec(text(f))?.[1] ?? '';

/** The files named on the command line (a file's name with or without `.test.ts`, or its path), or every file. */
function chosen() {
  const names = process.argv.slice(2).filter((a) => !a.startsWith('--'));
  if (!names.length) return files;
  const byName = new Map(files.map((f) => [basename(f, '.test.ts'), f]));
  const picked = names.map((n) => byName.get(basename(n).replace(/\.test\.ts$/, '')));
  const unknown = names.filter((_, i) => !picked[i]);
  if (unknown.length) {
    process.stderr.write(`lanes: no e2e file named ${unknown.join(', ')} (the files: ${[...byName.keys()].join(', ')})\n`);
    process.exit(2);
  }
  return [...new Set(picked)];
}

/** A lane's time: its files' times, plus CLUSTER_SECONDS per shared cluster (kind config) its files use. */
function laneSeconds(fs) {
  const configs = new Set(fs.map(sharedConfig).filter(Boolean));
  return fs.reduce((t, f) => t + seconds(f), 0) + configs.size * CLUSTER_SECONDS;
}

/** The two lanes whose longer one is shortest, over every way to split the files (2^n splits: a few thousand for
 *  today's files), so that files sharing a cluster land together when that pays; ties go to the more even split,
 *  then to the first found, so the plan is the same from run to run. Within a lane jest orders the files by shared
 *  cluster (sequencer.js). */
function bestSplit(rest) {
  const files = [...rest].sort((x, y) => seconds(y) - seconds(x) || x.localeCompare(y));
  let best;
  // the longest file stays in lane a: the mirror image of each split is the same split
  for (let mask = 0; mask < 2 ** (files.length - 1); mask++) {
    const b = files.filter((_, i) => i > 0 && mask & (1 << (i - 1)));
    const a = files.filter((f) => !b.includes(f));
    const [ta, tb] = [laneSeconds(a), laneSeconds(b)];
    const key = [Math.max(ta, tb), Math.abs(ta - tb)];
    if (!best || key[0] < best.key[0] || (key[0] === best.key[0] && key[1] < best.key[1])) best = { key, lanes: [a, b] };
  }
  return best.lanes;
}

/** Longest file first, each into the lane where it would end soonest (for more files than bestSplit can try). */
function greedySplit(rest) {
  const lanes = LANE_NAMES.map(() => []);
  for (const f of [...rest].sort((x, y) => seconds(y) - seconds(x) || x.localeCompare(y))) {
    const cost = (l) => laneSeconds([...l, f]);
    lanes.reduce((best, l) => (cost(l) < cost(best) ? l : best)).push(f);
  }
  return lanes;
}

function plan() {
  const run = chosen();
  const alone = run.filter((f) => /^\/\/ e2e: alone\b/m.test(text(f)));
  const rest = run.filter((f) => !alone.includes(f));
  if (process.env.FAULTLINE_E2E_LANES === '1') return { alone, lanes: [{ name: 'e2e', files: rest, seconds: laneSeconds(rest) }] };
  const split = rest.length === 0 ? [] : rest.length <= 18 ? bestSplit(rest) : greedySplit(rest);
  const lanes = split.map((files, i) => ({ name: LANE_NAMES[i], files, seconds: laneSeconds(files) }));
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
  const details = [];
  for (const [stream, to] of [[child.stdout, process.stdout], [child.stderr, process.stderr]]) {
    createInterface({ input: stream }).on('line', (line) => {
      const m = /^e2e: (\d+) passed, (\d+) failed, (\d+) skipped$/.exec(line);
      if (m) summary = { passed: +m[1], failed: +m[2], skipped: +m[3] };
      if (/^e2e (file|failed): /.test(line)) details.push(line);
      to.write(`[${tag}] ${line}\n`);
    });
  }
  return new Promise((resolve) => {
    child.on('close', (code, signal) => {
      children.delete(child);
      // a jest that ended without its summary line (killed, or crashed before reporting) counts as one failure
      resolve({ tag, code: code ?? 1, signal, seconds: (Date.now() - t0) / 1000, counts: summary ?? { passed: 0, failed: 1, skipped: 0 }, details });
    });
  });
}

const { alone, lanes } = plan();
for (const l of [{ name: 'alone', files: alone }, ...lanes]) {
  if (l.files.length) process.stderr.write(`[lanes] ${l.name}: ${l.files.map((f) => relative(dir, f)).join(', ')}${l.seconds ? ` (about ${l.seconds} s)` : ''}\n`);
}
if (process.argv.includes('--list')) {
  process.stderr.write(`[lanes] file times from the CI run of ${SECONDS_RUN}; ${CLUSTER_SECONDS} s per shared cluster a lane creates\n`);
  process.exit(0);
}
const results = [];
for (const f of alone) results.push(await jest('alone', [f]));
results.push(...(await Promise.all(lanes.map((l) => jest(l.name, l.files)))));

const total = { passed: 0, failed: 0, skipped: 0 };
// the files' times first, the failures last: a CI log is often read only from its tail
const details = (kind) => results.flatMap((r) => r.details.filter((d) => d.startsWith(`e2e ${kind}: `)).map((d) => `[lanes] ${r.tag}: ${d}\n`));
process.stderr.write(details('file').join(''));
for (const r of results) {
  for (const k of Object.keys(total)) total[k] += r.counts[k];
  process.stderr.write(`[lanes] ${r.tag}: ${r.counts.passed} passed, ${r.counts.failed} failed, ${r.counts.skipped} skipped in ${r.seconds.toFixed(0)} s (jest exited ${r.signal ?? r.code})\n`);
}
process.stderr.write(details('failed').join(''));
process.stderr.write(`\ne2e: ${total.passed} passed, ${total.failed} failed, ${total.skipped} skipped\n`);
process.exitCode = results.every((r) => r.code === 0) ? 0 : 1;
