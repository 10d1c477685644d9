// steady state: every detector quiet, integrity markers written, the workload serving before the fault.
import { scanAll } from '../../detectors/registry.js';
import { pollUntil } from '../../core/poll.js';
import { loadLine } from '../../report/format.js';
import { runLoadPhase } from '../load-phases.js';
import type { Stage } from '../run-state.js';

export const steadyStateStage: Stage = {
  name: 'steady-state',
  async run(st, s) {
    const { sc, deps } = st;
    const ctx = st.ctx(s);
    await pollUntil(
      async (n) => {
        const findings = await scanAll(ctx, deps.registries.detectors);
        if (findings.length === 0) return true;
        s.progress(`waiting for detectors to be quiet (poll ${n}): ${findings.map((f) => f.summary).join(' | ')}`);
        return undefined;
      },
      { intervalMs: st.pollMs, signal: s.signal },
    );
    for (const c of sc.integrity) {
      const check = deps.registries.integrity.get(c.check)!;
      const params = check.paramsSchema.parse(c.params);
      const res = await pollUntil(() => check.write(ctx, params), { intervalMs: st.pollMs, signal: s.signal, onMiss: (n, e) => s.progress(`integrity ${c.check} write (try ${n}): ${e ?? 'not yet'}`) });
      st.report.integrity.push(res);
      if (!res.ok) throw new Error(`integrity ${c.check}: ${res.details}`);
    }
    const before = await runLoadPhase(ctx, sc, 'before', s.signal, deps.registries.loadProbes);
    if (before) {
      st.recordLoad(before);
      if (before.failed > 0) throw new Error(`the workload fails before the fault: ${loadLine(before)}`);
    }
    return `all ${deps.registries.detectors.size} detector(s) quiet; ${sc.integrity.length} integrity marker(s) written${before ? `; ${loadLine(before)}` : ''}`;
  },
};
