// detect: the expected detectors name the fault with its evidence (TTD from the end of inject), while the
// scenario's load runs alongside.
import { loadLine } from '../../report/format.js';
import { alertWatchFor, alertingExtraSeconds, recordAlerts, settleAlerts } from '../alerting.js';
import { waitForFindings } from '../detect-wait.js';
import { runLoadPhase } from '../load-phases.js';
import { round2, type RunState, type Stage } from '../run-state.js';

/** Detect, diagnose and remediate have nothing to do when the scenario claims the cluster recovers on its own,
 *  or in a drill, where people do them. */
export function noResponse(st: RunState): string | undefined {
  if (st.drill) return 'a drill: people find and fix it';
  return st.selfHeal ? 'recovery "self" (the cluster must recover with no detection or runbook action)' : undefined;
}

export const detectStage: Stage = {
  name: 'detect',
  skip: noResponse,
  // expected alerts may take longer than the detector: the fault is held for them
  extraSeconds: (st) => alertingExtraSeconds(st.sc),
  async run(st, s) {
    const { sc, deps } = st;
    const ctx = st.ctx(s);
    const watch = sc.alerting ? alertWatchFor(sc.alerting, ctx) : undefined;
    watch?.start();
    // traffic during the fault: its own failures are not detection's concern (they are logged), and it stops
    // with the stage when detection fails
    const loadStop = new AbortController();
    const onStageAbort = () => loadStop.abort(s.signal.reason);
    s.signal.addEventListener('abort', onStageAbort, { once: true });
    const during = sc.load
      ? runLoadPhase(ctx, sc, 'during', loadStop.signal, deps.registries.loadProbes).catch((err: Error) => {
          st.log(`load during the fault: ${err.message}`);
          return undefined;
        })
      : undefined;
    try {
      st.detected = await waitForFindings(ctx, sc, deps.registries.detectors, s, st.pollMs);
    } catch (err) {
      loadStop.abort(err);
      await during;
      if (watch) await recordAlerts(st, watch);
      throw err;
    } finally {
      s.signal.removeEventListener('abort', onStageAbort);
    }
    st.detectedAt = st.clock.now();
    st.report.ttdSeconds = round2((st.detectedAt - st.injectEnd!) / 1000);
    st.report.findings = st.detected.map(({ detector, summary, rootCause, evidence, runbook }) => ({ detector, summary, rootCause, evidence, runbook }));
    const load = await during;
    if (load) {
      st.recordLoad(load);
      // the runbook starts when the traffic's window ends: TTR counts from then, not from the detection inside it
      st.heldUntil = st.clock.now();
    }
    if (watch) {
      await settleAlerts(st, watch, s.signal, s.progress);
      // the runbook could not start while the fault was held for the alerts: TTR counts from the end of the hold
      st.heldUntil = st.clock.now();
    }
    return `${st.detected.map((f) => f.summary).join(' | ')}${load ? `; ${loadLine(load)}` : ''}`;
  },
};
