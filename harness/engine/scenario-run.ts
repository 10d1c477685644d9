// One scenario on a provisioned cluster: the stages after provision, in order (stages/index.ts). Once a stage
// fails or the run is interrupted, the rest are skipped with the reason, except revert and teardown, which
// always run.
import { deadlineKey } from '../core/stages.js';
import type { ScenarioReport } from '../report/types.js';
import { holdAfterApplyMs } from './hold.js';
import { RunState, type ScenarioDeps, type ScenarioRunInput, type Stage } from './run-state.js';
import { runStage, skippedStage } from './stage.js';
import { SCENARIO_STAGES } from './stages/index.js';

export type { ScenarioDeps, ScenarioRunInput } from './run-state.js';

export async function runScenario(input: ScenarioRunInput, deps: ScenarioDeps): Promise<ScenarioReport> {
  const st = new RunState(input, deps, readHold(deps));
  let stopped = input.provision.status === 'passed' ? undefined : `provision ${input.provision.status}`;
  for (const stage of SCENARIO_STAGES) {
    const report = await runOne(stage, st, stopped);
    st.report.stages.push(report);
    if (report.status === 'failed' || report.status === 'interrupted') stopped ??= `${stage.name} ${report.status}`;
  }
  const bad = st.report.stages.find((s) => s.status === 'failed' || s.status === 'interrupted');
  if (bad) {
    st.report.status = 'failed';
    st.report.reason = `${bad.name} ${bad.status}${bad.message ? `: ${bad.message}` : ''}`;
  }
  return st.report;
}

function runOne(stage: Stage, st: RunState, stopped: string | undefined) {
  const deadline = st.sc.stageDeadlines[deadlineKey(stage.name)] + (stage.extraSeconds?.(st) ?? 0);
  if (stopped && !stage.always) return Promise.resolve(skippedStage(stage.name, deadline, `skipped: ${stopped}`, st.clock));
  const why = stage.skip?.(st);
  if (why) return Promise.resolve(skippedStage(stage.name, deadline, `skipped: ${why}`, st.clock));
  return runStage(stage.name, deadline, (s) => stage.run(st, s), {
    clock: st.clock,
    runSignal: stage.always ? undefined : st.input.runSignal,
    onProgress: (n, m) => st.deps.onProgress?.(st.sc.id, n, m),
  });
}

function readHold(deps: ScenarioDeps): { ms: number; error?: unknown } {
  try {
    return { ms: deps.holdAfterApplyMs ?? holdAfterApplyMs() };
  } catch (error) {
    return { ms: 0, error };
  }
}
