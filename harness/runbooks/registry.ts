import { crashloopRunbook } from './crashloop.js';
import { statefulsetEnvConflictRunbook } from './statefulset-env-conflict.js';
import type { Runbook } from './types.js';

export type RunbookRegistry = Map<string, Runbook>;

export function builtinRunbooks(): RunbookRegistry {
  const all: Runbook[] = [statefulsetEnvConflictRunbook, crashloopRunbook];
  return new Map(all.map((r) => [r.id, r]));
}
