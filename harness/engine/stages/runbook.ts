// diagnose and remediate: the scenario's runbook on the finding it is for.
import type { Finding } from '../../detectors/types.js';
import type { RunbookRegistry } from '../../runbooks/registry.js';
import { execEnv, runbookExec } from '../../runbooks/exec.js';
import type { Runbook } from '../../runbooks/types.js';
import type { RunState, Stage } from '../run-state.js';
import { noResponse } from './detect.js';

function pickFinding(findings: Finding[], runbooks: RunbookRegistry, runbookId: string): Finding | undefined {
  return findings.find((f) => f.runbook === runbookId && runbooks.has(f.runbook)) ?? findings[0];
}

export function runbookOf(st: RunState): Runbook {
  return st.deps.registries.runbooks.get(st.sc.runbook.id)!;
}

export const diagnoseStage: Stage = {
  name: 'diagnose',
  skip: noResponse,
  async run(st, s) {
    const finding = pickFinding(st.detected, st.deps.registries.runbooks, st.sc.runbook.id);
    if (!finding) throw new Error('no finding to diagnose');
    st.diagnosed = finding;
    st.diagnosis = await runbookOf(st).diagnose(st.ctx(s), finding);
    st.report.diagnosis = { summary: st.diagnosis.summary, details: st.diagnosis.details };
    return st.diagnosis.summary;
  },
};

export const remediateStage: Stage = {
  name: 'remediate',
  skip: noResponse,
  async run(st, s) {
    const runbook = runbookOf(st);
    if (st.sc.runbook.exec) {
      // the team's own remediation; verify (the runbook's) still decides
      const ctx = st.ctx(s);
      s.progress(`running the team's runbook: ${st.sc.runbook.exec}`);
      const r = await runbookExec(ctx, st.sc.runbook.exec, execEnv(ctx, st.sc.victim.namespace, st.diagnosed), s.signal);
      st.report.runbookExec = r;
      const said = `--runbook-exec exited ${r.exitCode ?? (r.timedOut ? 'on the deadline' : 'on a signal')} after ${r.durationSeconds}s`;
      st.report.remediation = { mode: 'exec', actions: [said] };
      return said;
    }
    const res = await runbook.remediate(st.ctx(s), st.diagnosis!, { namespace: st.sc.victim.namespace, ...st.sc.runbook.params });
    st.report.remediation = { mode: res.mode, actions: res.actions };
    if (res.mode === 'manual') throw new Error(`runbook ${runbook.id} has no automatic remediation: ${res.actions.join('; ')}`);
    return res.actions.join('; ');
  },
};
