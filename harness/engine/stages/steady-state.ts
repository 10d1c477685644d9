// steady state: quiet where this scenario looks, integrity markers written, the workload serving before the fault.
import { scan, ScanFailed } from '../../detectors/registry.js';
import type { Finding } from '../../detectors/types.js';
import { pollUntil } from '../../core/poll.js';
import { loadLine } from '../../report/format.js';
import { runLoadPhase } from '../load-phases.js';
import type { RunState, Stage } from '../run-state.js';

/** A finding that would spoil this run: one detection could take for the fault (an expected detector, in the
 *  namespace detection looks at), or trouble in the victim's namespace. Trouble elsewhere (a kube-system pod that
 *  restarted after an earlier run's control-plane fault) is reported, not waited out. */
function spoils(st: RunState, f: Finding): boolean {
  const detectNs = st.sc.detect.namespace ?? st.sc.victim.namespace;
  const inNs = (ns: string) => f.resources.some((r) => r.startsWith(`${ns}/`));
  return (st.sc.detect.expect.includes(f.detector) && inNs(detectNs)) || inNs(st.sc.victim.namespace);
}

export const steadyStateStage: Stage = {
  name: 'steady-state',
  async run(st, s) {
    const { sc, deps } = st;
    const ctx = st.ctx(s);
    let elsewhere: Finding[] = [];
    await pollUntil(
      async (n) => {
        const { findings, errors } = await scan(ctx, deps.registries.detectors);
        const spoiling = findings.filter((f) => spoils(st, f));
        elsewhere = findings.filter((f) => !spoils(st, f));
        // a detector that cannot look is not quiet: wait for it (a restarting API server), fail on the deadline
        if (spoiling.length === 0 && errors.length === 0) return true;
        const why = [...spoiling.map((f) => f.summary), ...(errors.length ? [new ScanFailed(errors).message] : [])];
        s.progress(`waiting for detectors to be quiet (poll ${n}): ${why.join(' | ')}`);
        return undefined;
      },
      { intervalMs: st.pollMs, signal: s.signal },
    );
    for (const f of elsewhere) st.log(`steady state: outside this scenario's scope, left as it is: ${f.summary}`);
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
    const quiet = elsewhere.length ? `quiet in this scenario's scope (${elsewhere.length} finding(s) elsewhere, not this scenario's: ${elsewhere.map((f) => f.resources[0] ?? f.detector).join(', ')})` : `all ${deps.registries.detectors.size} detector(s) quiet`;
    return `${quiet}; ${sc.integrity.length} integrity marker(s) written${before ? `; ${loadLine(before)}` : ''}`;
  },
};
