// Finds StatefulSets whose pod template sets an env var with both `value` and `valueFrom`: the stored StatefulSet
// holds it (older API servers accepted it; newer ones keep one already stored), but every Pod the controller
// creates from it is rejected, so pod -0 never comes back.
import { resourceId, type Detector, type Finding } from './types.js';
import { collectWorkloads, type StatefulSetInfo, type WorkloadSnapshot } from './snapshot.js';
import { describeCrash, eventsFor, isUnhealthyDependant, podMentionsAny } from './pod-health.js';

export interface EnvConflict {
  sts: StatefulSetInfo;
  list: 'containers' | 'initContainers';
  containerIndex: number;
  container: string;
  envIndex: number;
  env: string;
  valueFrom: string;
}

export function findEnvConflicts(snapshot: WorkloadSnapshot): EnvConflict[] {
  const out: EnvConflict[] = [];
  for (const sts of snapshot.statefulSets) {
    for (const list of ['initContainers', 'containers'] as const) {
      sts.containers
        .filter((c) => (c.list ?? 'containers') === list)
        .forEach((c, ci) =>
          c.env.forEach((e, ei) => {
            if (e.hasValue && e.valueFrom) out.push({ sts, list, containerIndex: ci, container: c.name, envIndex: ei, env: e.name, valueFrom: e.valueFrom });
          }),
        );
    }
  }
  return out;
}

export function fieldPath(c: Pick<EnvConflict, 'list' | 'containerIndex' | 'envIndex'>): string {
  return `spec.template.spec.${c.list}[${c.containerIndex}].env[${c.envIndex}]`;
}

function isOwnPod(stsName: string, podName: string): boolean {
  return new RegExp(`^${stsName.replace(/[.]/g, '\\.')}-\\d+$`).test(podName);
}

export function analyzeEnvConflicts(snapshot: WorkloadSnapshot): Finding[] {
  return findEnvConflicts(snapshot).map((c) => {
    const { sts } = c;
    const ns = sts.namespace;
    const pod0 = `${sts.name}-0`;
    const pod0Info = snapshot.pods.find((p) => p.namespace === ns && p.name === pod0);
    const failed = eventsFor(snapshot, ns, 'StatefulSet', sts.name).filter(
      (e) => e.reason === 'FailedCreate' && (!e.source || e.source === 'statefulset-controller'),
    );
    const failedCount = failed.reduce((n, e) => n + e.count, 0);
    const names = [sts.name, ...(sts.serviceName && sts.serviceName !== sts.name ? [sts.serviceName] : [])];
    const dependants = snapshot.pods
      .filter((p) => p.namespace === ns && !isOwnPod(sts.name, p.name) && isUnhealthyDependant(p, snapshot.takenAt))
      .map((p) => ({ pod: p, via: podMentionsAny(p, names) }))
      .filter((d): d is { pod: typeof d.pod; via: string } => d.via !== undefined);

    const consequence = pod0Info
      ? `pod ${pod0} exists (${pod0Info.phase ?? 'unknown'}) but cannot be recreated from this template`
      : failedCount > 0
        ? `the controller cannot create pod ${pod0} (FailedCreate x${failedCount})`
        : `the controller cannot create pod ${pod0} (no FailedCreate event seen yet)`;
    const deps = dependants.length ? `; dependants crash-looping: ${dependants.map((d) => `${ns}/${d.pod.name}`).join(', ')}` : '';
    const evidence = [
      ...failed.map((e) => `FailedCreate x${e.count} (${e.source || 'statefulset-controller'}): ${e.message}`),
      `replicas ${sts.replicas}, ready ${sts.readyReplicas}`,
      pod0Info ? `pod ${ns}/${pod0}: ${pod0Info.phase ?? 'unknown'}, ready ${pod0Info.ready}` : `pod ${ns}/${pod0}: absent`,
      `${fieldPath(c)} (${c.env}) has a literal value and ${c.valueFrom}`,
      ...dependants.map((d) => {
        const worst = d.pod.statuses.find((s) => !s.ready) ?? d.pod.statuses[0];
        return `dependant ${ns}/${d.pod.name} refers to "${d.via}": ${worst ? `${worst.name} ${describeCrash(worst)}` : 'not ready'}`;
      }),
    ];
    return {
      detector: 'statefulset-env-conflict',
      severity: 'critical',
      summary: `StatefulSet ${ns}/${sts.name} env ${c.env} in ${c.list === 'initContainers' ? 'init container' : 'container'} ${c.container} sets both value and valueFrom; ${consequence}${deps}`,
      rootCause:
        `${fieldPath(c)} (${c.env}) sets both value and valueFrom (${c.valueFrom}); the stored StatefulSet ` +
        'template holds it, but the API rejects every Pod made from it: "valueFrom: may not be specified when `value` is not empty"',
      evidence,
      runbook: 'statefulset-env-conflict',
      resources: [
        resourceId(ns, 'StatefulSet', sts.name),
        ...(pod0Info ? [resourceId(ns, 'Pod', pod0)] : []),
        ...dependants.map((d) => resourceId(ns, 'Pod', d.pod.name)),
        ...dependants.filter((d) => d.pod.owner).map((d) => resourceId(ns, d.pod.owner!.kind, d.pod.owner!.name)),
      ],
    };
  });
}

export const statefulsetEnvConflictDetector: Detector<WorkloadSnapshot> = {
  id: 'statefulset-env-conflict',
  description: 'StatefulSet pod templates with an env var that sets both value and valueFrom (controller FailedCreate)',
  collect: collectWorkloads,
  analyze: analyzeEnvConflicts,
};
