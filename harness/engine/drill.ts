// A drill (game day): the fault goes in and stays while people work the incident. faultline detects and
// remediates nothing; it polls the runbook's verify until the cluster is healthy again or the drill's deadline
// passes, and says only what an on-call person would see: the symptom, the namespace, the time left, and the
// alerts firing (with --alerts or --prometheus). TTR runs from the end of inject. Revert runs on every exit path,
// as in any run.
import { UserError } from '../core/errors.js';
import type { LoadedScenario } from './scenario.js';

/** How often the on-call view says where the drill is */
export const DRILL_STATUS_EVERY_MS = 30_000;

/** The scenario as a drill: one scenario, the verify stage's deadline is the drill's. */
export function asDrill(scenarios: LoadedScenario[], deadlineSeconds: number): LoadedScenario {
  if (scenarios.length !== 1) throw new UserError('a drill runs exactly one scenario', 'give one scenario id');
  const sc = scenarios[0]!;
  if (sc.recovery === 'self') throw new UserError(`${sc.id} recovers on its own: there is nothing for people to fix`, 'drill a scenario that needs a runbook');
  return { ...sc, drill: { deadlineSeconds }, stageDeadlines: { ...sc.stageDeadlines, verify: deadlineSeconds } };
}

/** What on-call is told when the incident goes live: never the fault, only what users would notice. */
export function liveLine(sc: LoadedScenario): string {
  const symptom = sc.symptom ?? `something is wrong with the workloads in namespace ${sc.victim.namespace}`;
  return `the incident is live: ${symptom} (namespace ${sc.victim.namespace}); you have ${clock(sc.drill!.deadlineSeconds)} to make it healthy`;
}

/** "still not healthy after 2m30s, 12m30s left; alerts firing: A, B" */
export function statusLine(elapsedSeconds: number, deadlineSeconds: number, firing: string[] | undefined): string {
  const alerts = firing === undefined ? '' : `; alerts firing: ${firing.length ? firing.join(', ') : 'none'}`;
  return `still not healthy after ${clock(elapsedSeconds)}, ${clock(Math.max(0, deadlineSeconds - elapsedSeconds))} left${alerts}`;
}

function clock(seconds: number): string {
  const s = Math.round(seconds);
  const m = Math.floor(s / 60);
  return m ? `${m}m${String(s % 60).padStart(2, '0')}s` : `${s}s`;
}
