// Generic crash-loop detector: names the container and how it exits. Specific detectors that explain the
// same pod (e.g. a dependant of a broken StatefulSet) take precedence; see dedupe.ts.
import { resourceId, type Detector, type Finding } from './types.js';
import { collectWorkloads, type WorkloadSnapshot } from './snapshot.js';
import { crashingContainers, describeCrash, eventsFor } from './pod-health.js';

const EVENT_PATTERNS = [/^Back-off restarting/i, /^Liveness probe failed/i, /^Readiness probe failed/i, /^Startup probe failed/i];

export function analyzeCrashloops(snapshot: WorkloadSnapshot): Finding[] {
  const findings: Finding[] = [];
  for (const pod of snapshot.pods) {
    const crashing = crashingContainers(pod, snapshot.takenAt);
    if (crashing.length === 0) continue;
    const ns = pod.namespace;
    const events = eventsFor(snapshot, ns, 'Pod', pod.name).filter((e) => EVENT_PATTERNS.some((re) => re.test(e.message)));
    const first = crashing[0]!;
    const code = first.lastTerminated?.exitCode;
    const reason = first.lastTerminated?.reason;
    const how =
      reason === 'OOMKilled'
        ? 'is killed for exceeding its memory limit (OOMKilled)'
        : code !== undefined
          ? `exits with code ${code}${reason ? ` (${reason})` : ''}`
          : 'keeps exiting';
    const liveness = events.find((e) => /^Liveness probe failed/i.test(e.message));
    findings.push({
      detector: 'crashloop',
      severity: 'warning',
      summary: `Pod ${ns}/${pod.name} is crash-looping: ${crashing.map((c) => `${c.name} ${describeCrash(c)}`).join('; ')}`,
      rootCause: `container ${first.name} ${how}${liveness ? ' after failing its liveness probe' : ''}`,
      evidence: [
        ...crashing.map((c) => `container ${c.name}: ${describeCrash(c)}`),
        ...events.map((e) => `${e.reason} x${e.count}: ${e.message}`),
      ],
      runbook: 'crashloop',
      resources: [resourceId(ns, 'Pod', pod.name), ...(pod.owner ? [resourceId(ns, pod.owner.kind, pod.owner.name)] : [])],
    });
  }
  return findings;
}

export const crashloopDetector: Detector<WorkloadSnapshot> = {
  id: 'crashloop',
  description: 'pods in CrashLoopBackOff or restarting repeatedly, with last exit code and probe/back-off events',
  generic: true,
  collect: collectWorkloads,
  analyze: analyzeCrashloops,
};
