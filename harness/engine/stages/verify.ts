// verify: the runbook's check passes (with a clean load run where the scenario has load), TTR counted, then the
// integrity markers written before the fault are read back: data that was there is still there.
import { pollUntil } from '../../core/poll.js';
import { loadLine } from '../../report/format.js';
import { runLoadPhase } from '../load-phases.js';
import { alertWatchFor, recordAlerts } from '../alerting.js';
import { DRILL_STATUS_EVERY_MS, liveLine, statusLine } from '../drill.js';
import { round2, type RunState, type Stage } from '../run-state.js';
import type { StageCtx } from '../stage.js';
import { runbookOf } from './runbook.js';

/** In a drill, what the waiting says: the symptom once, then every 30 s the time left and the alerts firing,
 *  never verify's own details (they would name the fault). Otherwise verify's details each poll. */
function waitingSaid(st: RunState, s: StageCtx, firing: () => string[] | undefined): (details: string[], poll: number) => void {
  if (!st.drill) return (details, n) => s.progress(`waiting for recovery (poll ${n}): ${details.join('; ')}`);
  s.progress(liveLine(st.sc));
  let last = st.clock.now();
  return () => {
    const now = st.clock.now();
    if (now - last < DRILL_STATUS_EVERY_MS) return;
    last = now;
    s.progress(statusLine((now - st.injectEnd!) / 1000, st.sc.drill!.deadlineSeconds, firing()));
  };
}

export const verifyStage: Stage = {
  name: 'verify',
  async run(st, s) {
    const { sc, deps, report } = st;
    const ctx = st.ctx(s);
    const runbook = runbookOf(st);
    const params = { namespace: sc.victim.namespace, ...sc.runbook.params };
    // in a drill the alerts are watched while people work (there is no detect stage to watch them in)
    const watch = st.drill && sc.alerting ? alertWatchFor(sc.alerting, ctx) : undefined;
    watch?.start();
    const waiting = waitingSaid(st, s, () => watch?.firingNow);
    // a drill counts recovery only after verify has seen the incident: a fault that takes a moment to show must
    // not pass as fixed before anyone touched it
    let seenBroken = !st.drill;
    const result = await pollUntil(
      async (n) => {
        const v = await runbook.verify(ctx, params);
        if (!seenBroken) {
          seenBroken = !v.ok;
          if (v.ok) return void (n === 1 && s.progress('the incident has not shown yet'));
        }
        if (v.ok && sc.load) {
          // recovery counts only when the workload serves traffic again without a single failure
          v.healthySince ??= st.clock.now();
          const after = (await runLoadPhase(ctx, sc, 'after', s.signal, deps.registries.loadProbes))!;
          st.recordLoad(after);
          v.details.push(loadLine(after));
          if (sc.load.requireCleanAfter && after.failed > 0) v.ok = false;
        }
        if (v.ok) return v;
        waiting(v.details, n);
        return undefined;
      },
      { intervalMs: st.pollMs, signal: s.signal },
    ).finally(() => (watch ? recordAlerts(st, watch) : undefined));
    // TTR: to the moment the cluster was healthy and stayed so; the end of the window that confirmed it is kept too
    const from = st.selfHeal || st.drill ? st.injectEnd! : (st.heldUntil ?? st.detectedAt!);
    const confirmedAt = st.clock.now();
    report.ttrSeconds = round2((Math.min(result.healthySince ?? confirmedAt, confirmedAt) - from) / 1000);
    report.confirmedAfterSeconds = round2((confirmedAt - from) / 1000);
    for (const c of sc.integrity) {
      const check = deps.registries.integrity.get(c.check)!;
      const p = check.paramsSchema.parse(c.params);
      // exec errors (pod restarting) are retried; a definite "marker missing" is data loss and fails at once
      const res = await pollUntil(() => check.check(ctx, p), { intervalMs: st.pollMs, signal: s.signal, onMiss: (n, e) => s.progress(`integrity ${c.check} (try ${n}): ${e ?? 'not yet'}`) });
      report.integrity.push(res);
      if (!res.ok) throw new Error(`integrity ${c.check}: ${res.details}`);
    }
    const lead = st.drill ? `healthy again ${report.ttrSeconds}s after the fault went in: ` : st.selfHeal ? `recovered on its own ${report.ttrSeconds}s after the fault: ` : '';
    return `${lead}${result.details.join('; ')}`;
  },
};
