// Property tests (fast-check) of the CLI in-process: generated scenario files and flag sets must each end with
// exit 0 or 2, a refusal in exactly one line, no stack trace, no hang, and no cluster touched. Every tool the
// providers shell out to (kind, docker, k3d) is a FAKE tripwire script that records its argv and fails; the
// kubeconfig points at 127.0.0.1:1, where nothing listens. No cluster exists anywhere in this test.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import { chmodSync, cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseDocument } from 'yaml';
import { main } from '../../harness/cli/program.js';
import { repoRoot } from '../../harness/core/paths.js';
import { writeUnreachableKubeconfig } from '../helpers/kubeconfig.js';
import { tempDir } from './helpers/tmp.js';

const ID = 'statefulset-env-conflict';
const HANG_MS = 15_000;
let tmp: ReturnType<typeof tempDir>;
let scenarios: string;
let tripwireLog: string;
let original: Record<string, unknown>;
const saved: Record<string, string | undefined> = {};

beforeAll(() => {
  tmp = tempDir();
  scenarios = join(tmp.path, 'scenarios');
  tripwireLog = join(tmp.path, 'tripwire.log');
  const tripwire = join(tmp.path, 'tripwire');
  writeFileSync(tripwire, `#!/bin/sh\necho "$(basename "$0") $*" >> ${tripwireLog}\necho "tripwire: no such tool here" >&2\nexit 1\n`);
  chmodSync(tripwire, 0o755);
  const env = {
    FAULTLINE_STATE_DIR: join(tmp.path, 'state'),
    FAULTLINE_CACHE: join(tmp.path, 'cache'),
    FAULTLINE_SCENARIOS_DIR: scenarios,
    FAULTLINE_KIND: tripwire,
    FAULTLINE_DOCKER: tripwire,
    FAULTLINE_K3D: tripwire,
    KUBECONFIG: writeUnreachableKubeconfig(join(tmp.path, 'kubeconfig')),
  };
  for (const [k, v] of Object.entries(env)) {
    saved[k] = process.env[k];
    process.env[k] = v;
  }
  // relative paths a generated flag names land in the temp dir, never in the repository
  saved.cwd = process.cwd();
  process.chdir(tmp.path);
  original = parseDocument(readFileSync(join(repoRoot(), 'scenarios', ID, 'scenario.yaml'), 'utf8')).toJS();
});

afterAll(() => {
  process.chdir(saved.cwd!);
  delete saved.cwd;
  for (const [k, v] of Object.entries(saved)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  tmp.cleanup();
});

interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the CLI in this process with stdout and stderr captured; a run that does not end in time fails. */
async function cli(argv: string[]): Promise<Outcome> {
  let stdout = '';
  let stderr = '';
  const out = process.stdout.write.bind(process.stdout);
  const err = process.stderr.write.bind(process.stderr);
  process.stdout.write = ((s: string | Uint8Array) => ((stdout += String(s)), true)) as typeof process.stdout.write;
  process.stderr.write = ((s: string | Uint8Array) => ((stderr += String(s)), true)) as typeof process.stderr.write;
  process.exitCode = undefined;
  let timer: NodeJS.Timeout | undefined;
  try {
    const hang = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`hung: faultline ${argv.join(' ')}`)), HANG_MS);
    });
    const code = await Promise.race([main(['node', 'faultline', ...argv]), hang]);
    return { code, stdout, stderr };
  } finally {
    clearTimeout(timer);
    process.stdout.write = out;
    process.stderr.write = err;
    process.exitCode = undefined;
  }
}

const CHANGES = /\b(create|delete|load|exec|cp|run|rm|kill|stop)\b/;

function expectSafe(o: Outcome, argv: string[]): void {
  const where = `faultline ${JSON.stringify(argv)} -> ${o.code}: ${o.stderr}`;
  expect([0, 2]).toContain(o.code);
  expect(o.stderr).not.toMatch(/^\s+at .+\(.+:\d+:\d+\)$/m); // no stack trace
  if (o.code === 2) {
    // Node's own warning about jest's VM modules is this test runner's, not the CLI's
    const lines = o.stderr.split('\n').filter((l) => l && !/^\(node:\d+\) ExperimentalWarning|^\(Use `node --trace-warnings/.test(l));
    if (lines.length !== 1 || !/^faultline: .+/.test(lines[0]!)) throw new Error(`not one line: ${where}`);
  }
  // the tripwire tools were asked at most read-only questions (docker info, kind get clusters)
  const asked = existsSync(tripwireLog) ? readFileSync(tripwireLog, 'utf8') : '';
  for (const line of asked.split('\n').filter(Boolean)) {
    if (CHANGES.test(line.replace(/^\S+ /, ''))) throw new Error(`a tool was asked to change something: ${line} (${where})`);
  }
  expect(existsSync(join(tmp.path, 'state', 'journal'))).toBe(false);
}

// ---- generated scenario files ----

const leaf = fc.oneof(
  fc.string({ maxLength: 12 }),
  fc.constantFrom('', ' ', '../../etc/passwd', '/etc/hostname', 'kind-configs/ha.yaml', 'nope', ID),
  fc.integer({ min: -10, max: 10 }),
  fc.constantFrom(0, -1, 1e9, 2 ** 31, Number.MAX_SAFE_INTEGER, 0.0001),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.string({ maxLength: 5 }), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 5 }), fc.string({ maxLength: 5 }), { maxKeys: 2 }),
);

/** every path to a value in the scenario, so mutations reach nested fields too */
function paths(v: unknown, at: Array<string | number> = []): Array<Array<string | number>> {
  if (Array.isArray(v)) return [at, ...v.flatMap((x, i) => paths(x, [...at, i]))];
  if (v && typeof v === 'object') return [at, ...Object.entries(v).flatMap(([k, x]) => paths(x, [...at, k]))];
  return [at];
}

type Mutation = { kind: 'set' | 'delete' | 'add'; pick: number; value: unknown; key: string };

function mutate(doc: Record<string, unknown>, muts: Mutation[]): Record<string, unknown> {
  const out = structuredClone(doc);
  for (const m of muts) {
    const all = paths(out).filter((p) => p.length > 0);
    if (all.length === 0) break;
    const p = all[m.pick % all.length]!;
    let parent: any = out;
    for (const k of p.slice(0, -1)) parent = parent[k];
    const last = p[p.length - 1]!;
    if (m.kind === 'delete') Array.isArray(parent) ? parent.splice(Number(last), 1) : delete parent[last];
    else if (m.kind === 'set') parent[last] = m.value;
    else if (parent && typeof parent === 'object' && !Array.isArray(parent)) parent[m.key || 'x'] = m.value;
  }
  return out;
}

const mutation = fc.record({ kind: fc.constantFrom('set', 'delete', 'add') as fc.Arbitrary<Mutation['kind']>, pick: fc.nat(), value: leaf, key: fc.string({ maxLength: 6 }) });

/** the scenario text: a mutated document, sometimes with its bytes damaged as well */
const scenarioText = fc.tuple(fc.array(mutation, { minLength: 0, maxLength: 4 }), fc.option(fc.tuple(fc.nat(), fc.string({ maxLength: 4 })), { nil: undefined })).map(([muts, damage]) => {
  let text = JSON.stringify(mutate(original, muts), null, 1);
  if (damage) {
    const at = damage[0] % (text.length + 1);
    text = text.slice(0, at) + damage[1] + text.slice(at + damage[1].length);
  }
  return text;
});

const commandFor = (id: string) =>
  fc.constantFrom<string[]>(['list'], ['list', '-o', 'json'], ['run', id], ['inject', id, '--cluster', 'x'], ['run', id, '--context', 'dead', '--allow-context', 'dead'], ['bench', id], ['drill', id, '--deadline', '1m']);

// ---- generated flag sets ----

const word = fc.oneof(fc.string({ maxLength: 10 }), fc.constantFrom('', ' ', '-', '--', 'dead', ID, 'x=1', 'delayMs=2000', '/proc/self/x', '999999999999', '-1', 'faultline-x', '../..'));
const flag = fc.constantFrom(
  '--all', '--context', '--allow-context', '--cluster', '--keep', '--image', '--report-dir', '-o', '--output', '--fault-param', '--provider',
  '--run', '--runs', '--out', '--name', '--config', '-n', '--namespace', '--deploy', '--help', '--frobnicate', '--force',
  '--deadline', '--prometheus', '--alertmanager',
);
const argvArb = fc.tuple(
  fc.constantFrom(['run'], ['inject'], ['doctor'], ['recover'], ['list'], ['runbook'], ['report'], ['bench'], ['drill'], ['cluster', 'up'], ['cluster', 'down'], ['cluster', 'list'], ['nonsense'], []),
  fc.array(fc.oneof(flag, word), { maxLength: 6 }),
).map(([cmd, rest]) => [...cmd, ...rest]);

describe('fuzzing the CLI (fast-check, in-process, tripwire tools)', () => {
  test('600 generated scenario files: exit 0 or 2, one line when refused, nothing touched', async () => {
    await fc.assert(
      fc.asyncProperty(scenarioText, fc.boolean(), fc.nat(), async (text, sameId, which) => {
        rmSync(scenarios, { recursive: true, force: true });
        const id = sameId ? ID : 'other-id';
        cpSync(join(repoRoot(), 'scenarios', ID), join(scenarios, id), { recursive: true });
        writeFileSync(join(scenarios, id, 'scenario.yaml'), text);
        const commands = fc.sample(commandFor(id), { seed: which, numRuns: 1 });
        const argv = commands[0]!;
        expectSafe(await cli(argv), argv);
      }),
      { numRuns: 600 },
    );
  }, 600_000);

  test('400 generated flag sets on the shipped catalog: exit 0 or 2, one line when refused, nothing touched', async () => {
    mkdirSync(scenarios, { recursive: true });
    rmSync(scenarios, { recursive: true, force: true });
    cpSync(join(repoRoot(), 'scenarios'), scenarios, { recursive: true });
    await fc.assert(
      fc.asyncProperty(argvArb, async (argv) => {
        expectSafe(await cli(argv), argv);
      }),
      { numRuns: 400 },
    );
  }, 600_000);
});
