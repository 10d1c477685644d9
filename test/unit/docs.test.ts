// docs/scenarios.md's "Registered names" against the registries themselves, so the list cannot drift.
import { describe, expect, test } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../../harness/core/paths.js';
import { builtinFixtures } from '../../harness/fixtures/registry.js';
import { builtinLoadProbes } from '../../harness/load/registry.js';
import { builtinRegistries } from '../../harness/engine/registries.js';

function section(file: string, heading: string): string {
  const text = readFileSync(join(repoRoot(), file), 'utf8');
  const start = text.indexOf(`## ${heading}\n`);
  if (start < 0) throw new Error(`${file} has no "## ${heading}"`);
  const end = text.indexOf('\n## ', start + 1);
  return text.slice(start, end < 0 ? undefined : end);
}

describe('docs/scenarios.md', () => {
  test('every registered fault, detector, runbook, integrity check, fixture and load probe is named under "Registered names"', () => {
    const names = section('docs/scenarios.md', 'Registered names');
    const r = builtinRegistries();
    const registered = {
      faults: [...r.faults.keys()],
      detectors: [...r.detectors.keys()],
      runbooks: [...r.runbooks.keys()],
      integrity: [...r.integrity.keys()],
      fixtures: [...builtinFixtures().keys()],
      load: [...builtinLoadProbes().keys()],
    };
    const missing = Object.entries(registered).flatMap(([kind, ids]) => ids.filter((id) => !names.includes(`\`${id}\``)).map((id) => `${kind} ${id}`));
    expect(missing).toEqual([]);
  });
});
