// Which scenarios of one cluster run at the same time. A scenario of isolation "namespace" changes nothing outside
// its victim namespace (checked at load), so up to `parallel` of them, in distinct namespaces, share the cluster at
// once; every other scenario runs alone, as does one run with the alerting stack (one per cluster).
import type { LoadedScenario } from './scenario.js';

export function runsAlongside(sc: LoadedScenario): boolean {
  return sc.isolation === 'namespace' && !sc.alerting && !sc.runbook.exec;
}

/** The scenarios in the order they start: each batch runs together, batches one after another. A batch takes its
 *  place at its first scenario; later namespace scenarios join it while it has room. */
export function batches(scenarios: LoadedScenario[], parallel: number): LoadedScenario[][] {
  const out: LoadedScenario[][] = [];
  let open: LoadedScenario[] | undefined;
  for (const sc of scenarios) {
    if (parallel < 2 || !runsAlongside(sc)) {
      out.push([sc]);
      continue;
    }
    if (open && open.length < parallel && !open.some((o) => o.victim.namespace === sc.victim.namespace)) {
      open.push(sc);
      continue;
    }
    open = [sc];
    out.push(open);
  }
  return out;
}
