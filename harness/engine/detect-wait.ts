// The detect stage's wait: every expected detector has fired on the scenario's namespace, with the evidence the
// scenario asks for (the real signature, not just the static cause).
import { scanAll, type DetectorRegistry } from '../detectors/registry.js';
import type { Finding } from '../detectors/types.js';
import { podsNotReadyBrief } from '../cluster/components.js';
import type { RunContext } from '../cluster/context.js';
import { pollUntil } from '../core/poll.js';
import { errorMessage } from '../core/errors.js';
import type { LoadedScenario } from './scenario.js';
import type { StageCtx } from './stage.js';

export function waitForFindings(ctx: RunContext, sc: LoadedScenario, detectors: DetectorRegistry, s: StageCtx, pollMs: number): Promise<Finding[]> {
  const want = new Set(sc.detect.expect);
  const ns = sc.detect.namespace ?? sc.victim.namespace;
  // only the expected detectors: the others (the whole set is the steady state's) would only make each poll as slow
  // as the slowest of them
  const expected: DetectorRegistry = new Map([...detectors].filter(([id]) => want.has(id)));
  return pollUntil(
    async (n) => {
      const findings = await scanAll(ctx, expected);
      const hits = findings.filter((f) => want.has(f.detector) && f.resources.some((r) => r.startsWith(`${ns}/`)));
      const missing = [...want].filter((id) => !hits.some((f) => f.detector === id));
      const text = hits.map((f) => [f.summary, ...f.evidence].join('\n')).join('\n');
      const lacking = sc.detect.evidence.filter((e) => !text.includes(e));
      const few = hits.length < sc.detect.findings;
      if (missing.length === 0 && lacking.length === 0 && !few) return hits;
      if (missing.length === 0) {
        const still = [...(lacking.length ? [`evidence ${lacking.map((e) => JSON.stringify(e)).join(', ')}`] : []), ...(few ? [`${sc.detect.findings} findings (${hits.length} so far)`] : [])];
        s.progress(`${[...want].join(', ')} fired; waiting for ${still.join(' and ')} (poll ${n})`);
        return undefined;
      }
      // what the namespace looks like while nothing fires, so that a detect that runs out of time says whether the
      // fault's effect was there (pods in ImagePullBackOff) or not yet (pods still ContainerCreating)
      s.progress(`waiting for ${missing.join(', ')} (poll ${n}); ${ns}: ${await namespacePods(ctx, ns)}`);
      return undefined;
    },
    // a scan that throws (every expected detector failed) is a miss too, but its error is shown, not swallowed
    { intervalMs: pollMs, signal: s.signal, onMiss: (n, err) => err && s.progress(`waiting for ${[...want].join(', ')} (poll ${n}): the scan failed: ${err}`) },
  );
}

async function namespacePods(ctx: RunContext, namespace: string): Promise<string> {
  try {
    return podsNotReadyBrief((await ctx.kube.core.listNamespacedPod({ namespace })).items);
  } catch (err) {
    return `pods not listed (${errorMessage(err)})`; // a description only: the next poll scans again
  }
}
