// Whether the API server can call a webhook, asked the only way that shows it: a request the webhook's rules
// match. A deletion is the one request that needs no made-up object: an existing object of the rule's resource
// is deleted with dryRun=All, which runs admission (webhooks included) and persists nothing. Only webhooks that
// declare no side effects (sideEffects None or NoneOnDryRun) are asked; the API server would refuse a dry run
// for the others without calling them. A denial is the webhook's policy, not a failure, and is not reported.
import type { KubernetesObject, V1MutatingWebhook, V1ValidatingWebhook } from '@kubernetes/client-node';
import { apiRawGet } from '../cluster/api-raw.js';
import { apiErrorMessage, selectorQuery } from '../cluster/kube.js';
import type { KubeContext } from '../cluster/context.js';
import { bounded, TimeoutError } from '../core/poll.js';
import type { WebhookConfigKind } from './admission-webhooks.js';

export interface DeleteProbe {
  kind: WebhookConfigKind;
  config: string;
  webhook: string;
  /** the rule block it went through: "DELETE volumes.storage.faultline.dev" */
  rule: string;
  /** "Volume volume-system/scratch-1" */
  object: string;
  /** failed: the API server could not get an answer from the webhook (what failurePolicy Fail turns into a refusal) */
  outcome: 'allowed' | 'denied' | 'failed';
  /** the API's error, for denied and failed */
  message?: string;
}

interface Target {
  kind: WebhookConfigKind;
  config: string;
  webhook: string;
  group: string;
  versions: string[];
  resource: string;
  /** the webhook's namespaceSelector as a label selector ("" or absent: every namespace) */
  namespaces?: string;
}

/** Probes per scan: a cluster with many webhooks is sampled, not swept. */
export const MAX_PROBES = 8;
/** A probe's answer must come within the detector's own collect bound (COLLECT_TIMEOUT_MS, 20 s), or the whole
 *  detector counts as failed: 15 s covers a webhook's default 10 s timeout. A webhook that takes longer is not
 *  asked about this scan (no answer says nothing about it). */
const PROBE_TIMEOUT_MS = 15_000;

export function ruleText(operations: string[], groups: string[], resources: string[]): string {
  const res = resources.flatMap((r) => (groups.length ? groups : ['']).map((g) => (g && g !== '*' ? `${r}.${g}` : r)));
  return `${operations.join(',')} ${[...new Set(res)].join(',')}`;
}

/** The rule blocks a dry-run deletion can test: DELETE (or *), a named group and resource, no subresource. */
export function deleteTargets(kind: WebhookConfigKind, config: string, w: V1ValidatingWebhook | V1MutatingWebhook): Target[] {
  if (w.failurePolicy === 'Ignore' || !['None', 'NoneOnDryRun'].includes(w.sideEffects ?? '')) return [];
  return (w.rules ?? []).flatMap((r) => {
    if (!(r.operations ?? []).some((o) => o === 'DELETE' || o === '*')) return [];
    return (r.apiGroups ?? []).flatMap((group) =>
      group === '*' ? [] : (r.resources ?? []).filter((res) => res !== '*' && !res.includes('/')).map((resource) => ({ kind, config, webhook: w.name, group, versions: r.apiVersions ?? ['*'], resource, namespaces: selectorQuery(w.namespaceSelector) })),
    );
  });
}

/** What the API's refusal says about the call: a webhook that could not be called, or one that said no. */
export function classifyRefusal(message: string): 'denied' | 'failed' {
  return /failed calling webhook|failed to call webhook/i.test(message) ? 'failed' : 'denied';
}

/** apiVersion and kind of a resource of a group, from discovery (the preferred version when any will do). */
export async function resourceType(ctx: KubeContext, t: Pick<Target, 'group' | 'versions' | 'resource'>): Promise<{ apiVersion: string; kind: string } | undefined> {
  const base = t.group === '' ? '/api' : `/apis/${t.group}`;
  let version = t.versions.find((v) => v !== '*');
  if (!version) {
    const g = JSON.parse(await apiRawGet(ctx.kube.kc, base)) as { preferredVersion?: { version?: string }; versions?: string[] };
    version = t.group === '' ? g.versions?.[0] : g.preferredVersion?.version;
  }
  if (!version) return undefined;
  const list = JSON.parse(await apiRawGet(ctx.kube.kc, `${base}/${version}`)) as { resources?: Array<{ name: string; kind: string }> };
  const kind = list.resources?.find((r) => r.name === t.resource)?.kind;
  return kind ? { apiVersion: t.group === '' ? version : `${t.group}/${version}`, kind } : undefined;
}

async function probe(ctx: KubeContext, t: Target): Promise<DeleteProbe | undefined> {
  const type = await resourceType(ctx, t).catch(() => undefined);
  if (!type) return undefined;
  // an object the webhook sees: in a namespace its namespaceSelector matches (and the scan's scope, if any)
  let namespaces: Array<string | undefined> = ctx.namespaces ?? [undefined];
  if (t.namespaces) {
    const matched = (await ctx.kube.core.listNamespace({ labelSelector: t.namespaces })).items.map((n) => n.metadata?.name ?? '');
    namespaces = matched.filter((n) => !ctx.namespaces || ctx.namespaces.includes(n)).slice(0, 5);
  }
  let obj: KubernetesObject | undefined;
  for (const ns of namespaces) {
    const l = await ctx.kube.objects.list(type.apiVersion, type.kind, ns, undefined, undefined, undefined, undefined, undefined, 1).catch(() => undefined);
    obj = l?.items[0];
    if (obj) break;
  }
  const name = obj?.metadata?.name;
  if (!obj || !name) return undefined;
  const ns = obj.metadata?.namespace;
  const base = { kind: t.kind, config: t.config, webhook: t.webhook, rule: ruleText(['DELETE'], [t.group], [t.resource]), object: `${type.kind} ${ns ? `${ns}/` : ''}${name}` };
  try {
    await bounded(ctx.kube.objects.delete({ apiVersion: type.apiVersion, kind: type.kind, metadata: { name, ...(ns ? { namespace: ns } : {}) } }, undefined, 'All'), PROBE_TIMEOUT_MS, `dry-run DELETE ${base.object}`);
    return { ...base, outcome: 'allowed' };
  } catch (err) {
    if (err instanceof TimeoutError) return undefined;
    const message = apiErrorMessage(err);
    // not allowed to delete it (RBAC) says nothing about the webhook
    if (/^HTTP 40[14]\b/.test(message) && !/webhook/i.test(message)) return undefined;
    return { ...base, outcome: classifyRefusal(message), message };
  }
}

/** One dry-run deletion per rule block that allows one, up to MAX_PROBES. */
export async function probeDeletes(ctx: KubeContext, configs: Array<{ kind: WebhookConfigKind; name: string; webhooks: Array<V1ValidatingWebhook | V1MutatingWebhook> }>): Promise<DeleteProbe[]> {
  const targets = configs.flatMap((c) => c.webhooks.flatMap((w) => deleteTargets(c.kind, c.name, w))).slice(0, MAX_PROBES);
  const probes = await Promise.all(targets.map((t) => probe(ctx, t).catch(() => undefined)));
  return probes.filter((p): p is DeleteProbe => p !== undefined);
}
