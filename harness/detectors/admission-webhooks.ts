// Admission webhooks whose backend is gone. A webhook sends every request its rules match to a Service; when that
// Service does not exist or has no ready endpoint, the API server cannot call it, and with failurePolicy Fail
// (the default) it refuses every matching request: pods (the controllers' FailedCreate events say so), but also
// ConfigMaps, Deployments or deletions, where nothing records the refusal but the client's error. So this reads the
// configurations themselves and each backend's EndpointSlices, not the events; and, since a backend with ready
// endpoints may still fail every call (a hung process, a certificate its caBundle does not sign), it asks the API
// server through each DELETE rule with a dry-run deletion and keeps the API's error (admission-webhook-probe.ts).
import { AdmissionregistrationV1Api, type V1MutatingWebhook, type V1ValidatingWebhook } from '@kubernetes/client-node';
import type { KubeContext } from '../cluster/context.js';
import { serviceEndpoints } from '../cluster/kube.js';
import { probeDeletes, ruleText, type DeleteProbe } from './admission-webhook-probe.js';
import { resourceId, type Detector, type Finding } from './types.js';

export type WebhookConfigKind = 'ValidatingWebhookConfiguration' | 'MutatingWebhookConfiguration';

export interface WebhookInfo {
  kind: WebhookConfigKind;
  config: string;
  name: string;
  /** Fail unless the configuration says Ignore (the API's default is Fail) */
  failurePolicy: 'Fail' | 'Ignore';
  service?: { namespace: string; name: string };
  /** "CREATE,UPDATE pods" per rule */
  rules: string[];
  /** how the webhook narrows the namespaces it sees, when it does */
  namespaceSelector?: string;
}

export interface BackendState {
  exists: boolean;
  /** endpoints of its EndpointSlices */
  ready: number;
  notReady: number;
  /** the Service's pod selector ("app=policy"); absent: a Service without one (endpoints managed by hand) */
  selector?: string;
}

export interface WebhookSnapshot {
  kind: 'admission-webhooks';
  webhooks: WebhookInfo[];
  /** by "namespace/name" of each Service a webhook calls */
  backends: Record<string, BackendState>;
  /** dry-run deletions through the webhooks' DELETE rules (absent in older snapshots) */
  probes?: DeleteProbe[];
}

const selectorText = (s: { matchLabels?: Record<string, string>; matchExpressions?: Array<{ key: string; operator: string; values?: string[] }> } | undefined): string | undefined => {
  if (!s) return undefined;
  const parts = [
    ...Object.entries(s.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`),
    ...(s.matchExpressions ?? []).map((e) => `${e.key} ${e.operator}${e.values?.length ? ` (${e.values.join(',')})` : ''}`),
  ];
  return parts.length ? parts.join(', ') : undefined;
};

export function webhookInfo(kind: WebhookConfigKind, config: string, w: V1ValidatingWebhook | V1MutatingWebhook): WebhookInfo {
  const svc = w.clientConfig?.service;
  const ns = selectorText(w.namespaceSelector);
  return {
    kind,
    config,
    name: w.name,
    failurePolicy: w.failurePolicy === 'Ignore' ? 'Ignore' : 'Fail',
    ...(svc ? { service: { namespace: svc.namespace, name: svc.name } } : {}),
    rules: (w.rules ?? []).map((r) => ruleText(r.operations ?? [], r.apiGroups ?? [], r.resources ?? [])),
    ...(ns ? { namespaceSelector: ns } : {}),
  };
}

// ---------- analysis (pure) ----------

function backendProblem(b: BackendState | undefined): string | undefined {
  if (!b || !b.exists) return 'does not exist';
  if (b.ready > 0) return undefined;
  if (b.notReady > 0) return `has no ready endpoints (${b.notReady} not ready)`;
  return b.selector ? `has no ready endpoints (its selector ${b.selector} matches no running pod)` : 'has no ready endpoints (no selector, and no endpoints were written for it)';
}

const refusedLine = (p: DeleteProbe): string => `${p.rule}: the dry-run deletion of ${p.object} is refused: ${p.message ?? ''}`;

export function analyzeWebhooks(s: WebhookSnapshot): Finding[] {
  // one finding per configuration and backend: a configuration often lists several webhooks on one Service
  const groups = new Map<string, { hooks: WebhookInfo[]; problem: string; svc: { namespace: string; name: string } }>();
  const failed = (s.probes ?? []).filter((p) => p.outcome === 'failed');
  const failedFor = (hooks: WebhookInfo[]): DeleteProbe[] => failed.filter((p) => hooks.some((h) => h.kind === p.kind && h.config === p.config && h.name === p.webhook));
  // (another detector's snapshot has neither list: quiet)
  for (const w of s.webhooks ?? []) {
    if (!w.service) continue;
    const problem = backendProblem(s.backends?.[`${w.service.namespace}/${w.service.name}`]);
    if (!problem) continue;
    const key = `${w.kind}/${w.config}/${w.service.namespace}/${w.service.name}`;
    const g = groups.get(key) ?? { hooks: [], problem, svc: w.service };
    g.hooks.push(w);
    groups.set(key, g);
  }
  const explained = [...groups.values()].flatMap((g) => failedFor(g.hooks));
  return [
    ...[...groups.values()].map(({ hooks, problem, svc }) => backendFinding(hooks, problem, svc, failedFor(hooks))),
    ...callFindings(s.webhooks ?? [], failed.filter((p) => !explained.includes(p))),
  ];
}

function backendFinding(hooks: WebhookInfo[], problem: string, svc: { namespace: string; name: string }, refused: DeleteProbe[]): Finding {
  const first = hooks[0]!;
  const failing = hooks.filter((h) => h.failurePolicy === 'Fail');
  const matched = [...new Set(hooks.flatMap((h) => h.rules))].join('; ') || 'no rules';
  const they = hooks.length > 1 ? 'they match' : 'it matches';
  const effect = failing.length
    ? `with failurePolicy Fail the API server refuses every request ${they} (${matched})`
    : `with failurePolicy Ignore the requests ${they} (${matched}) pass without the check`;
  const svcName = `Service ${svc.namespace}/${svc.name}`;
  const restore = problem === 'does not exist' ? `restore ${svcName} and the pods behind it` : `bring back the pods behind ${svcName}`;
  const blocked = [...new Set(refused.map((p) => p.rule.replace(/^DELETE /, '')))];
  return {
    detector: 'admission-webhooks',
    severity: failing.length ? 'critical' : 'warning',
    summary:
      `${first.kind} ${first.config}: webhook${hooks.length > 1 ? 's' : ''} ${hooks.map((h) => h.name).join(', ')} call${hooks.length > 1 ? '' : 's'} ${svcName}, which ${problem}` +
      (blocked.length ? `; deleting ${blocked.join(', ')} is refused` : ''),
    rootCause:
      `the backend of ${first.kind} ${first.config} (${svcName}) ${problem}, so the API server cannot call its webhook${hooks.length > 1 ? 's' : ''}; ${effect}. ` +
      `To change: ${restore}, or narrow the webhook's rules or namespaceSelector (remove the rule block of the resource that must be deleted now), or remove ${first.config} if its controller is gone` +
      (failing.length ? ' (failurePolicy: Ignore only where skipping the check is safe)' : ''),
    evidence: [
      ...hooks.map((h) => `webhook ${h.name}: failurePolicy ${h.failurePolicy}, rules ${h.rules.join('; ') || 'none'}${h.namespaceSelector ? `, namespaceSelector ${h.namespaceSelector}` : ''}`),
      ...refused.map(refusedLine),
    ],
    runbook: 'blocking-webhook',
    resources: [resourceId(svc.namespace, 'Service', svc.name), resourceId('', first.kind, first.config)],
  };
}

/** Webhooks the API server cannot call although their Service has ready endpoints (a TLS error, a timeout, a
 *  backend that answers with an error), or that call a URL: only the refused request shows it. */
function callFindings(webhooks: WebhookInfo[], refused: DeleteProbe[]): Finding[] {
  const byHook = new Map<string, DeleteProbe[]>();
  for (const p of refused) byHook.set(`${p.kind}/${p.config}/${p.webhook}`, [...(byHook.get(`${p.kind}/${p.config}/${p.webhook}`) ?? []), p]);
  return [...byHook.values()].map((ps): Finding => {
    const p = ps[0]!;
    const w = webhooks.find((h) => h.kind === p.kind && h.config === p.config && h.name === p.webhook);
    const target = w?.service ? `Service ${w.service.namespace}/${w.service.name}, which has ready endpoints` : 'its URL';
    return {
      detector: 'admission-webhooks',
      severity: 'critical',
      summary: `${p.kind} ${p.config}: webhook ${p.webhook} cannot be called; deleting ${ps.map((x) => x.rule.replace(/^DELETE /, '')).join(', ')} is refused`,
      rootCause:
        `the API server calls webhook ${p.webhook} at ${target}, but the call fails (${p.message ?? 'no answer'}), and with failurePolicy Fail every request its rules match is refused (${w?.rules.join('; ') ?? p.rule}). ` +
        `To change: make the backend answer (its serving certificate against the configuration's caBundle, its logs, a restart), or remove the rule block of the resource that must be deleted now`,
      evidence: [...(w ? [`webhook ${w.name}: failurePolicy ${w.failurePolicy}, rules ${w.rules.join('; ') || 'none'}`] : []), ...ps.map(refusedLine)],
      runbook: 'blocking-webhook',
      resources: [
        ...(w?.service ? [resourceId(w.service.namespace, 'Service', w.service.name)] : []),
        resourceId('', p.kind, p.config),
      ],
    };
  });
}

// ---------- collection (read-only) ----------

async function backend(ctx: KubeContext, namespace: string, name: string): Promise<BackendState> {
  let selector: string | undefined;
  try {
    const svc = await ctx.kube.core.readNamespacedService({ name, namespace });
    selector = selectorText(svc.spec?.selector ? { matchLabels: svc.spec.selector } : undefined);
  } catch (err) {
    if ((err as { code?: number }).code === 404) return { exists: false, ready: 0, notReady: 0 };
    throw err;
  }
  return { exists: true, ...(await serviceEndpoints(ctx.kube.kc, namespace, name)), ...(selector ? { selector } : {}) };
}

export async function collectWebhooks(ctx: KubeContext): Promise<WebhookSnapshot> {
  const api = ctx.kube.kc.makeApiClient(AdmissionregistrationV1Api);
  const [validating, mutating] = await Promise.all([api.listValidatingWebhookConfiguration(), api.listMutatingWebhookConfiguration()]);
  const webhooks = [
    ...validating.items.flatMap((c) => (c.webhooks ?? []).map((w) => webhookInfo('ValidatingWebhookConfiguration', c.metadata?.name ?? '', w))),
    ...mutating.items.flatMap((c) => (c.webhooks ?? []).map((w) => webhookInfo('MutatingWebhookConfiguration', c.metadata?.name ?? '', w))),
  ].filter((w) => !ctx.namespaces || (w.service && ctx.namespaces.includes(w.service.namespace)));
  // a scan scoped to namespaces probes the webhooks whose backend is in them
  const inScope = (w: { clientConfig?: { service?: { namespace: string } } }): boolean => !ctx.namespaces || (!!w.clientConfig?.service && ctx.namespaces.includes(w.clientConfig.service.namespace));
  const probes = await probeDeletes(ctx, [
    ...validating.items.map((c) => ({ kind: 'ValidatingWebhookConfiguration' as const, name: c.metadata?.name ?? '', webhooks: (c.webhooks ?? []).filter(inScope) })),
    ...mutating.items.map((c) => ({ kind: 'MutatingWebhookConfiguration' as const, name: c.metadata?.name ?? '', webhooks: (c.webhooks ?? []).filter(inScope) })),
  ]);
  const keys = [...new Set(webhooks.flatMap((w) => (w.service ? [`${w.service.namespace}/${w.service.name}`] : [])))];
  const states = await Promise.all(keys.map((k) => backend(ctx, k.split('/')[0]!, k.split('/')[1]!)));
  return { kind: 'admission-webhooks', webhooks, backends: Object.fromEntries(keys.map((k, i) => [k, states[i]!])), probes };
}

export const admissionWebhooksDetector: Detector<WebhookSnapshot> = {
  id: 'admission-webhooks',
  description: 'admission webhooks whose backend Service is missing or has no ready endpoint, or that a dry-run deletion shows cannot be called (with failurePolicy Fail, every request they match is refused)',
  collect: collectWebhooks,
  analyze: analyzeWebhooks,
};
