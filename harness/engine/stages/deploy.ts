// deploy: the victim's set-ups (journaled), then its namespace (journaled before it exists) and manifests.
import { victimNamespace } from '../../faults/victim-namespace.js';
import { applyJournaled } from '../journal.js';
import type { Stage } from '../run-state.js';
import { ALERTING_DEPLOY_SECONDS } from '../alerting.js';

export const deployStage: Stage = {
  name: 'deploy',
  // the alerting stack's images are loaded into the nodes and it must have scraped etcd before the victim goes in
  extraSeconds: (st) => (st.sc.alerting && !st.sc.alerting.external ? ALERTING_DEPLOY_SECONDS : 0),
  async run(st, s) {
    const { sc, deps, input } = st;
    st.base = { runId: input.runId, cluster: input.cluster, provider: deps.provider, kube: deps.connect(input.cluster), log: st.log };
    const made: string[] = [];
    for (const [i, setup] of sc.victim.setup.entries()) {
      s.progress(`setting up ${setup.type}`);
      const entry = await st.apply(st.ctx(s), setup.type, setup.params, `${sc.id}-setup-${i + 1}`);
      const line = deps.registries.faults.get(setup.type)?.made?.(entry.record);
      if (line) made.push(line);
    }
    // journaled before it exists (a killed run's namespace is deleted by recover), and known as this run's as
    // soon as it does, so a deploy interrupted while waiting for readiness still lets teardown delete it
    const ctx = st.ctx(s);
    const out = await deps.deployer.deploy(ctx, sc, s, async (ns) => {
      const step = { scenario: sc.id, id: `${sc.id}-namespace`, type: victimNamespace.type, params: { namespace: ns } };
      await applyJournaled(ctx, deps.registries.faults, st.journal, step, (e) => (st.namespaceEntry = e));
      st.createdNamespace = true;
    });
    st.createdNamespace ||= out.createdNamespace;
    return [...made, out.message].join('; ');
  },
};
