// verify: the runbook's check passes (with a clean load run where the scenario has load), TTR counted, then the
// integrity markers written before the fault are read back: data that was there is still there.
import { pollUntil } from '../../core/poll.js';
import { loadLine } from '../../report/format.js';
import { runLoadPhase } from '../load-phases.js';
import { round2, type Stage } from '../run-state.js';
import { runbookOf } from './runbook.js';

export const verifyStage: Stage = {
  name: 'verify',
  async run(st, s) {
    const { sc, deps, report } = st;
    const ctx = st.ctx(s);
    const runbook = runbookOf(st);
    const params = { namespace: sc.victim.namespace, ...sc.runbook.params };
    const result = await pollUntil(
      async (n) => {
        const v = await runbook.verify(ctx, params);
        if (v.ok && sc.load) {
          // recovery counts only when the workload serves traffic again without a single failure
          v.healthySince ??= st.clock.now();
          const after = (await runLoadPhase(ctx, sc, 'after', s.signal, deps.registries.loadProbes))!;
          st.recordLoad(after);
          v.details.push(loadLine(after));
          if (sc.load.requireCleanAfter && after.failed > 0) v.ok = false;
        }
        if (v.ok) return v;
        s.progress(`waiting for recovery (poll ${n}): ${v.details.join('; ')}`);
        return undefined;
      },
      { intervalMs: st.pollMs, signal: s.signal },
    );
    // TTR: to the moment the cluster was healthy and stayed so; the end of the window that confirmed it is kept too
    const from = st.selfHeal ? st.injectEnd! : st.detectedAt!;
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
    return `${st.selfHeal ? `recovered on its own ${report.ttrSeconds}s after the fault: ` : ''}${result.details.join('; ')}`;
  },
};
