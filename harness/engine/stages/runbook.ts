// diagnose and remediate: the scenario's runbook on the finding it is for.
import type { Finding } from '../../detectors/types.js';
import type { RunbookRegistry } from '../../runbooks/registry.js';
import type { Runbook } from '../../runbooks/types.js';
import type { RunState, Stage } from '../run-state.js';
import { selfHealing } from './detect.js';

function pickFinding(findings: Finding[], runbooks: RunbookRegistry, runbookId: string): Finding | undefined {
  return findings.find((f) => f.runbook === runbookId && runbooks.has(f.runbook)) ?? findings[0];
}

export function runbookOf(st: RunState): Runbook {
  return st.deps.registries.runbooks.get(st.sc.runbook.id)!;
}

export const diagnoseStage: Stage = {
  name: 'diagnose',
  skip: selfHealing,
  async run(st, s) {
    const finding = pickFinding(st.detected, st.deps.registries.runbooks, st.sc.runbook.id);
    if (!finding) throw new Error('no finding to diagnose');
    st.diagnosis = await runbookOf(st).diagnose(st.ctx(s), finding);
    st.report.diagnosis = { summary: st.diagnosis.summary, details: st.diagnosis.details };
    return st.diagnosis.summary;
  },
};

export const remediateStage: Stage = {
  name: 'remediate',
  skip: selfHealing,
  async run(st, s) {
    const runbook = runbookOf(st);
    const res = await runbook.remediate(st.ctx(s), st.diagnosis!, { namespace: st.sc.victim.namespace, ...st.sc.runbook.params });
    st.report.remediation = { mode: res.mode, actions: res.actions };
    if (res.mode === 'manual') throw new Error(`runbook ${runbook.id} has no automatic remediation: ${res.actions.join('; ')}`);
    return res.actions.join('; ');
  },
};
