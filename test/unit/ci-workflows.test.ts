// docs/ci/*.yml linted: both workflows parse, every faultline command they run exists in the CLI with the options
// they pass, and the shards they declare cover 1..N. (They are not run on GitHub or GitLab here.)
import { describe, expect, test } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { parse } from 'yaml';
import { buildProgram } from '../../harness/cli/program.js';
import { repoRoot } from '../../harness/core/paths.js';

const CLI = 'node dist/harness/cli/main.js';

/** Every string under a run: or script: key, as shell lines. */
function shellLines(doc: unknown): string[] {
  const out: string[] = [];
  const walk = (v: unknown, key?: string): void => {
    if (Array.isArray(v)) v.forEach((x) => walk(x, key));
    else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) walk(x, k);
    else if (typeof v === 'string' && (key === 'run' || key === 'script' || key === 'before_script')) out.push(...v.split('\n'));
  };
  walk(doc);
  return out.map((l) => l.trim()).filter(Boolean);
}

/** faultline's argv in a shell line: up to a redirection or the end; variables that expand to options are dropped. */
function faultlineArgv(line: string): string[] | undefined {
  const at = line.indexOf(CLI);
  if (at < 0) return undefined;
  // a GitHub expression is one word: ${{ matrix.shard }} -> ${{matrix.shard}}
  const words = line.slice(at + CLI.length).replace(/\$\{\{\s*([^}]*?)\s*\}\}/g, '${{$1}}').trim().split(/\s+/);
  const end = words.findIndex((w) => /^(>|>>|\||&&|;|2>)/.test(w));
  return (end < 0 ? words : words.slice(0, end)).filter((w) => w !== '$durations');
}

function check(argv: string[]): void {
  let cmd: Command = buildProgram();
  const words = [...argv];
  while (words.length && !words[0]!.startsWith('-')) {
    const sub = cmd.commands.find((c) => c.name() === words[0]);
    if (!sub) break;
    cmd = sub;
    words.shift();
  }
  expect(cmd.name()).not.toBe('faultline');
  for (const w of words.filter((x) => x.startsWith('--'))) {
    const flag = w.split('=')[0]!;
    expect([flag, cmd.options.map((o) => o.long)]).toEqual([flag, expect.arrayContaining([flag])]);
  }
  for (const w of words.filter((x) => /^-[a-z]$/.test(x))) expect(cmd.options.map((o) => o.short)).toContain(w);
}

describe.each([
  ['github-actions.yml', (d: any) => d.jobs.shard.strategy.matrix.shard as number[], '${{matrix.shard}}/3'],
  ['gitlab-ci.yml', (d: any) => Array.from({ length: d['faultline-shard'].parallel as number }, (_, i) => i + 1), '$CI_NODE_INDEX/$CI_NODE_TOTAL'],
])('docs/ci/%s', (file, shards, shardArg) => {
  const doc = parse(readFileSync(join(repoRoot(), 'docs/ci', file), 'utf8'));
  const runs = shellLines(doc).map(faultlineArgv).filter((a): a is string[] => a !== undefined);

  test('runs a shard and a merge, with options the CLI has', () => {
    expect(runs.map((a) => a.slice(0, 2).join(' '))).toEqual(expect.arrayContaining(['run --all', 'report merge']));
    for (const argv of runs) check(argv);
  });

  test('its shards are 1..N and each job passes its own', () => {
    const s = shards(doc);
    expect(s).toEqual(Array.from({ length: s.length }, (_, i) => i + 1));
    expect(s.length).toBeGreaterThanOrEqual(2);
    const run = runs.find((a) => a[0] === 'run')!;
    expect(run[run.indexOf('--shard') + 1]).toBe(shardArg);
  });
});
