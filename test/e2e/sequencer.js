// Orders the test files so that the e2e files sharing a cluster (sharedCluster('<config>') in cluster-pool.ts) run one
// after another: the files without a shared cluster first, then one group per kind config. Within a group, and for
// the unit files, by path, so a run's order is the same on every machine.
import { readFileSync } from 'node:fs';
import Sequencer from '@jest/test-sequencer';

const BaseSequencer = Sequencer.default ?? Sequencer;

function sharedConfig(path) {
  try {
    return /sharedCluster\('([\w-]+)'\)/.exec(readFileSync(path, 'utf8'))?.[1] ?? '';
  } catch {
    return '';
  }
}

export default class SharedClusterSequencer extends BaseSequencer {
  sort(tests) {
    const key = new Map(tests.map((t) => [t.path, sharedConfig(t.path)]));
    return [...tests].sort((a, b) => key.get(a.path).localeCompare(key.get(b.path)) || a.path.localeCompare(b.path));
  }
}
