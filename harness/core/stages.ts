// The stages of one scenario run, in order, defined once: the engine runs them, scenario files give their
// deadlines (camelCase keys), reports name them.
export const STAGE_ORDER = [
  'provision',
  'deploy',
  'steady-state',
  'inject',
  'detect',
  'diagnose',
  'remediate',
  'verify',
  'revert',
  'teardown',
] as const;

export type StageName = (typeof STAGE_ORDER)[number];

export type StageStatus = 'passed' | 'failed' | 'skipped' | 'interrupted';

type Camel<S extends string> = S extends `${infer A}-${infer B}` ? `${A}${Capitalize<Camel<B>>}` : S;

/** The key of a stage's deadline in a scenario file ("steady-state" → "steadyState"). */
export type DeadlineKey = Camel<StageName>;

export function deadlineKey(name: StageName): DeadlineKey {
  return name.replace(/-([a-z])/g, (_m, c: string) => c.toUpperCase()) as DeadlineKey;
}
