// Pods a controller cannot create (pure), from its FailedCreate events: the API's answer parsed into who refused
// and what to change. Admission (PodSecurity, a ValidatingAdmissionPolicy, a webhook), validation of the pod
// template (a field path and its reason, in any container list), a ResourceQuota, a LimitRange, a missing service
// account. For PodSecurity it names where the level comes from: the namespace's own label, or the cluster-wide
// default of the API server's AdmissionConfiguration.
import type { EventInfo } from './snapshot.js';
import { resourceId, type Finding } from './types.js';

/** FailedCreate events older than this are history, not the present state. */
export const ADMISSION_WINDOW_MS = 15 * 60_000;

export const PSA_ENFORCE = 'pod-security.kubernetes.io/enforce';

export interface WorkloadShort {
  namespace: string;
  kind: string;
  name: string;
  /** pods it wants and has; a refusal matters while has < wants */
  wants: number;
  has: number;
  /** the workload that owns it (a ReplicaSet's Deployment, a Job's CronJob) */
  owner?: { kind: string; name: string };
}

export interface PodSecurityDefault {
  node: string;
  /** the flag's file, as the API server reads it, and where it is on the node */
  configFile?: string;
  enforce?: string;
  enforceVersion?: string;
  exemptNamespaces: string[];
  error?: string;
}

export interface PodCreateSnapshot {
  kind: 'pod-create';
  takenAt: string;
  /** Warning FailedCreate events */
  events: EventInfo[];
  namespaces: Array<{ name: string; labels: Record<string, string> }>;
  workloads: WorkloadShort[];
  /** read from the control-plane nodes where faultline can reach them; empty otherwise */
  defaults: PodSecurityDefault[];
}

export type Refusal =
  | { by: 'pod-security'; level: string; violations: Array<{ check: string; fix: string }> }
  | { by: 'policy'; policy: string; binding?: string; message: string }
  | { by: 'webhook'; webhook: string; message: string; unreachable: boolean }
  | { by: 'validation'; fields: Array<{ path: string; reason: string }> }
  | { by: 'quota'; quota: string; message: string }
  | { by: 'limit-range'; message: string }
  | { by: 'service-account'; account: string };

/** Parses the API's answer inside a FailedCreate message; undefined when it is not an admission refusal. */
export function parseRefusal(message: string): Refusal | undefined {
  const psa = /violates PodSecurity "([^"]+)": (.*)$/s.exec(message);
  if (psa) {
    const violations: Array<{ check: string; fix: string }> = [];
    // "allowPrivilegeEscalation != false (container "app" must set securityContext.allowPrivilegeEscalation=false), ..."
    for (const m of psa[2]!.matchAll(/([^,(]+?) \(([^()]*(?:\([^()]*\)[^()]*)*)\)(?:, |$)/g)) violations.push({ check: m[1]!.trim(), fix: m[2]!.trim() });
    return { by: 'pod-security', level: psa[1]!, violations };
  }
  const vap = /ValidatingAdmissionPolicy '([^']+)'(?: with binding '([^']+)')? denied request: (.*)$/s.exec(message);
  if (vap) return { by: 'policy', policy: vap[1]!, ...(vap[2] ? { binding: vap[2] } : {}), message: vap[3]!.trim() };
  const denied = /admission webhook "([^"]+)" denied the request:? ?(.*)$/s.exec(message);
  if (denied) return { by: 'webhook', webhook: denied[1]!, message: denied[2]!.trim(), unreachable: false };
  const failed = /failed calling webhook "([^"]+)": (.*)$/s.exec(message);
  if (failed) return { by: 'webhook', webhook: failed[1]!, message: failed[2]!.trim(), unreachable: true };
  // "Pod "x" is invalid: spec.initContainers[0].env[1].valueFrom: Invalid value: "": may not be specified when ..."
  const invalid = /is invalid: (.*)$/s.exec(message);
  if (invalid) {
    const fields = invalid[1]!.split(/, (?=spec\.|metadata\.)/).map((part) => {
      const m = /^((?:spec|metadata)\.[^:]+): (.*)$/s.exec(part.trim());
      return m ? { path: m[1]!, reason: m[2]!.replace(/^Invalid value: ("[^"]*"|\S+): /, '').trim() } : { path: '', reason: part.trim() };
    });
    return { by: 'validation', fields };
  }
  const quota = /(?:exceeded quota|failed quota): ([^,:]+)[,:] ?(.*)$/s.exec(message);
  if (quota) return { by: 'quota', quota: quota[1]!.trim(), message: quota[2]!.trim() };
  // a quota made moments before its pods: admission refuses them until the quota controller has counted its usage
  const unknown = /status unknown for quota: ([^,:]+)(?:, resources: (.*))?$/s.exec(message);
  if (unknown) return { by: 'quota', quota: unknown[1]!.trim(), message: `its usage is not counted yet${unknown[2] ? ` (${unknown[2].trim()})` : ''}; the quota controller has not synced it` };
  const sa = /error looking up service account ([^:]+):/.exec(message);
  if (sa) return { by: 'service-account', account: sa[1]!.trim() };
  const limits = /is forbidden: ((?:maximum|minimum) [^\n]+ per (?:Container|Pod|PersistentVolumeClaim) is .*)$/s.exec(message);
  if (limits) return { by: 'limit-range', message: limits[1]!.trim() };
  return undefined;
}

/** Where a namespace's enforced PodSecurity level comes from. */
export function podSecuritySource(ns: string, labels: Record<string, string>, defaults: PodSecurityDefault[]): string {
  const label = labels[PSA_ENFORCE];
  if (label) return `namespace ${ns} is labelled ${PSA_ENFORCE}=${label}`;
  const d = defaults.find((x) => x.enforce);
  if (d) {
    const exempt = d.exemptNamespaces.includes(ns) ? ` (but ${ns} is exempt there)` : '';
    return `namespace ${ns} has no ${PSA_ENFORCE} label, so the cluster-wide default applies: defaults.enforce "${d.enforce}" in ${d.configFile ?? 'the AdmissionConfiguration'} on ${d.node}${exempt}`;
  }
  return `namespace ${ns} has no ${PSA_ENFORCE} label, so the API server's cluster-wide PodSecurity default applies (its AdmissionConfiguration; faultline could not read it from the nodes)`;
}

const ts = (s?: string) => (s ? Date.parse(s) : NaN);

function describe(r: Refusal): { cause: string; fields: string[] } {
  if (r.by === 'pod-security') {
    return { cause: `PodSecurity "${r.level}" refuses them`, fields: r.violations.map((v) => `${v.check}: ${v.fix}`) };
  }
  if (r.by === 'policy') return { cause: `ValidatingAdmissionPolicy ${r.policy}${r.binding ? ` (binding ${r.binding})` : ''} denies them: ${r.message}`, fields: [] };
  if (r.by === 'webhook') {
    return {
      cause: r.unreachable
        ? `the admission webhook ${r.webhook} cannot be called (${r.message}) and its failurePolicy refuses the request`
        : `the admission webhook ${r.webhook} denies them: ${r.message}`,
      fields: [],
    };
  }
  if (r.by === 'validation') {
    const fields = r.fields.map((f) => `${templatePath(f.path)}: ${f.reason}`);
    return { cause: `the API rejects its pod template: ${fields[0] ?? 'invalid'}`, fields };
  }
  if (r.by === 'quota') return { cause: `ResourceQuota ${r.quota} refuses them (${r.message})`, fields: [] };
  if (r.by === 'limit-range') return { cause: `a LimitRange refuses them: ${r.message}`, fields: [] };
  return { cause: `service account ${r.account} does not exist`, fields: [] };
}

/** A pod's field path as it is in the controller's pod template ("spec.containers[0]" -> "spec.template.spec.containers[0]"). */
export function templatePath(podPath: string): string {
  return podPath.startsWith('spec.') ? `spec.template.${podPath}` : podPath;
}

export function analyzePodCreate(s: PodCreateSnapshot): Finding[] {
  if (s?.kind !== 'pod-create') return [];
  const now = ts(s.takenAt);
  const findings: Finding[] = [];
  for (const w of s.workloads) {
    if (w.has >= w.wants) continue;
    const events = s.events.filter(
      (e) => e.reason === 'FailedCreate' && e.namespace === w.namespace && e.involvedKind === w.kind && e.involvedName === w.name && !(now - ts(e.lastSeen) > ADMISSION_WINDOW_MS),
    );
    const latest = [...events].sort((a, b) => (ts(b.lastSeen) || 0) - (ts(a.lastSeen) || 0))[0];
    const refusal = latest && parseRefusal(latest.message);
    if (!latest || !refusal) continue;
    const count = events.reduce((n, e) => n + e.count, 0);
    const top = w.owner ?? { kind: w.kind, name: w.name };
    const { cause, fields } = describe(refusal);
    const ns = s.namespaces.find((n) => n.name === w.namespace);
    const source = refusal.by === 'pod-security' ? podSecuritySource(w.namespace, ns?.labels ?? {}, s.defaults) : undefined;
    const change =
      refusal.by === 'pod-security'
        ? `label namespace ${w.namespace} ${PSA_ENFORCE}=<the level its workloads meet> (e.g. baseline), or set in ${top.kind} ${top.name}'s pod template: ${fields.map((f) => f.split(': ').pop()).join('; ')}`
        : refusal.by === 'policy'
          ? `change the ${top.kind}'s pod template to meet policy ${refusal.policy}, or the policy's binding`
          : refusal.by === 'webhook'
            ? refusal.unreachable
              ? `bring the webhook ${refusal.webhook}'s backend back, or narrow its rules (failurePolicy Fail refuses every request it cannot send)`
              : `change what the webhook ${refusal.webhook} objects to`
            : refusal.by === 'validation'
              ? `fix ${top.kind} ${top.name}'s pod template: ${fields.join('; ')}`
              : refusal.by === 'quota'
                ? `raise ResourceQuota ${refusal.quota} in ${w.namespace}, or lower the pods' requests and limits (or give them the limits it requires)`
                : refusal.by === 'limit-range'
                  ? `set the pods' resources within the namespace's LimitRange, or change the LimitRange`
                  : `create service account ${refusal.account}, or set the pod template's serviceAccountName to one that exists`;
    findings.push({
      detector: 'pod-create-refused',
      severity: 'critical',
      summary: `${top.kind} ${w.namespace}/${top.name} cannot create pods (${w.has}/${w.wants}): ${cause}${source ? `; ${source}` : ''} (FailedCreate x${count})`,
      rootCause: `${cause}${source ? `, because ${source}` : ''}; to change: ${change}`,
      evidence: [
        `${w.kind} ${w.namespace}/${w.name}: FailedCreate x${count}: ${latest.message}`,
        ...fields.map((f) => `${refusal.by === 'validation' ? 'invalid' : 'violation'} ${f}`),
        ...(source ? [`enforcement: ${source}`] : []),
        ...s.defaults.filter((d) => d.error).map((d) => `${d.node}: cannot read the API server's admission configuration: ${d.error}`),
      ],
      runbook: 'pod-create-refused',
      resources: [resourceId(w.namespace, top.kind, top.name), ...(w.owner ? [resourceId(w.namespace, w.kind, w.name)] : [])],
    });
  }
  return findings;
}
