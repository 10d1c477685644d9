// What `faultline drill` prints while it runs (the on-call view), kept apart from the run's usual progress.
import { progressPrinter, say } from './common.js';

/** What a drill prints while it runs: before the incident is live, only which stage faultline is in; while it
 *  is live, the verify stage's on-call lines; once it is over, everything, starting with what was held back. */
export function drillPrinter(start = Date.now()) {
  const print = progressPrinter(start);
  const held: string[] = [];
  let phase: 'preparing' | 'live' | 'over' = 'preparing';
  let lastStage: string | undefined;
  const over = () => {
    if (phase === 'over') return;
    phase = 'over';
    say('the drill is over; what faultline did and saw:');
    for (const line of held.splice(0)) say(`  ${line}`);
  };
  return {
    onProgress(scenario: string, stage: string, msg: string) {
      if (stage === 'verify' && phase !== 'over') {
        phase = 'live';
        if (msg !== 'started') print(scenario, 'drill', msg);
        return;
      }
      if (phase === 'live' || stage === 'revert' || stage === 'teardown') over();
      if (phase === 'over') return print(scenario, stage, msg);
      held.push(`${stage}: ${msg}`);
      if (stage !== lastStage) print(scenario, 'preparing', stage);
      lastStage = stage;
    },
    log(msg: string) {
      if (phase === 'over') say(msg);
      else held.push(msg);
    },
  };
}
