// The import graph points one way: core ← cluster ← plug-ins ← engine ← cli. Read from the sources, no fakes.
import { describe, expect, it } from '@jest/globals';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { repoRoot } from '../../harness/core/paths.js';

const HARNESS = join(repoRoot(), 'harness');

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((e) => {
    const p = join(dir, e);
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
  });
}

/** top-level folders under harness/ that a file imports, other than its own */
function importedFolders(file: string): string[] {
  const own = relative(HARNESS, file).split('/')[0]!;
  const src = readFileSync(file, 'utf8');
  const out = new Set<string>();
  for (const m of src.matchAll(/from\s+'(\.{1,2}\/[^']+)'/g)) {
    const target = relative(HARNESS, resolve(dirname(file), m[1]!));
    const folder = target.split('/')[0]!;
    if (folder !== own && !target.startsWith('..')) out.add(folder);
  }
  return [...out];
}

// what each folder may import (beyond itself); plug-ins may use each other's libraries but never the engine
const PLUGINS = ['faults', 'detectors', 'runbooks', 'integrity', 'fixtures', 'load', 'certs', 'mtls', 'alerts'];
const ALLOWED: Record<string, string[]> = {
  core: [],
  cluster: ['core'],
  ...Object.fromEntries(PLUGINS.map((p) => [p, ['core', 'cluster', ...PLUGINS, 'report']])),
  report: ['core', 'integrity', 'load', 'alerts'],
  engine: ['core', 'cluster', ...PLUGINS, 'report'],
  cli: ['core', 'cluster', ...PLUGINS, 'report', 'engine'],
};

describe('layers', () => {
  it('every folder imports only the layers below it', () => {
    const wrong: string[] = [];
    for (const f of files(HARNESS)) {
      const own = relative(HARNESS, f).split('/')[0]!;
      const allowed = ALLOWED[own];
      if (!allowed) {
        wrong.push(`${relative(HARNESS, f)}: folder ${own} has no place in the layers`);
        continue;
      }
      for (const dep of importedFolders(f)) if (!allowed.includes(dep)) wrong.push(`${relative(HARNESS, f)} imports ${dep}`);
    }
    expect(wrong).toEqual([]);
  });
});
