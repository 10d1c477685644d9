// blocking-webhook: an admission webhook the API server cannot call, with failurePolicy Fail, refuses every request
// its rules match, and an object that must go (a storage system's volume) cannot be deleted. The fix a storage
// operator's own troubleshooting notes give: cut the rule block of that resource out of the webhook configuration,
// delete the object, then restart the webhook's backend, which writes its configuration again in full. Cutting a
// validation rule is a person's decision, so it is automatic only when the caller names the resource and the
// objects; otherwise the runbook says exactly what to change.
import { AdmissionregistrationV1Api, type V1RuleWithOperations } from '@kubernetes/client-node';
import { z } from 'zod';
import { probeDeletes, resourceType } from '../detectors/admission-webhook-probe.js';
import type { Finding } from '../detectors/types.js';
import { apiErrorMessage, isNotFound, mergePatch } from '../cluster/kube.js';
import type { RunContext } from '../cluster/context.js';
import { dependantsReady } from './verify-helpers.js';
import { parseResource, type Diagnosis, type Runbook, type VerifyResult } from './types.js';

export const VerifyParams = z
  .object({
    namespace: z.string().min(1),
    /** the ValidatingWebhookConfiguration that blocks */
    config: z.string().min(1),
    /** the resource whose rule block is cut out, as resource.group ("volumes.storage.faultline.dev") */
    resource: z.string().regex(/^[a-z0-9-]+(\.[a-z0-9.-]+)?$/, 'resource.group, e.g. volumes.storage.faultline.dev'),
    /** the objects of that resource to delete (in the namespace unless given) */
    delete: z.array(z.object({ name: z.string().min(1), namespace: z.string().min(1).optional() }).strict()).min(1),
    /** the webhook's backend, restarted so it writes its configuration again */
    backend: z.object({ deployment: z.string().min(1) }).strict(),
  })
  .strict();
type VerifyParams = z.infer<typeof VerifyParams>;

const RESTARTED_AT = 'kubectl.kubernetes.io/restartedAt';

export function splitResource(r: string): { resource: string; group: string } {
  const i = r.indexOf('.');
  return i < 0 ? { resource: r, group: '' } : { resource: r.slice(0, i), group: r.slice(i + 1) };
}

/** The rules without `resource` of `group`: a block that names only it goes, a block that names more loses it. */
export function withoutResource(rules: V1RuleWithOperations[], group: string, resource: string): V1RuleWithOperations[] {
  return rules.flatMap((r) => {
    if (!(r.apiGroups ?? []).includes(group) || !(r.resources ?? []).includes(resource)) return [r];
    const rest = (r.resources ?? []).filter((x) => x !== resource);
    return rest.length ? [{ ...r, resources: rest }] : [];
  });
}

const hasRule = (rules: V1RuleWithOperations[] | undefined, group: string, resource: string): boolean =>
  (rules ?? []).some((r) => (r.apiGroups ?? []).includes(group) && (r.resources ?? []).includes(resource));

async function cutRuleBlock(ctx: RunContext, config: string, group: string, resource: string): Promise<string[]> {
  const api = ctx.kube.kc.makeApiClient(AdmissionregistrationV1Api);
  const cfg = await api.readValidatingWebhookConfiguration({ name: config });
  const cut = (cfg.webhooks ?? []).filter((w) => hasRule(w.rules, group, resource)).map((w) => w.name);
  if (cut.length === 0) return [];
  // a replace carries the resourceVersion read: a configuration changed in between is a conflict, not overwritten
  await api.replaceValidatingWebhookConfiguration({
    name: config,
    body: { ...cfg, webhooks: (cfg.webhooks ?? []).map((w) => (cut.includes(w.name) ? { ...w, rules: withoutResource(w.rules ?? [], group, resource) } : w)) },
  });
  return cut;
}

/** Deletes the listed objects, or (find) says which still exist; each line names the object. */
async function eachObject(ctx: RunContext, p: VerifyParams, action: 'delete' | 'find'): Promise<string[]> {
  const { group, resource } = splitResource(p.resource);
  const type = await resourceType(ctx, { group, versions: ['*'], resource });
  if (!type) throw new Error(`the API serves no resource ${p.resource}`);
  const out: string[] = [];
  for (const o of p.delete) {
    const spec = { apiVersion: type.apiVersion, kind: type.kind, metadata: { name: o.name, namespace: o.namespace ?? p.namespace } };
    const id = `${type.kind} ${spec.metadata.namespace}/${o.name}`;
    try {
      if (action === 'find') await ctx.kube.objects.read(spec);
      else await ctx.kube.objects.delete(spec);
      out.push(action === 'find' ? `${id} still exists` : `deleted ${id}`);
    } catch (err) {
      if (!isNotFound(err)) throw new Error(`${id}: ${apiErrorMessage(err)}`);
      out.push(`${id} is gone`);
    }
  }
  return out;
}

export const blockingWebhookRunbook: Runbook = {
  id: 'blocking-webhook',
  title: 'An admission webhook that cannot be called refuses the requests its rules match (a deletion that never goes through)',
  verifyParams: VerifyParams,

  async diagnose(_ctx, finding: Finding): Promise<Diagnosis> {
    const config = finding.resources.map(parseResource).find((r) => r.kind.endsWith('WebhookConfiguration'));
    const service = finding.resources.map(parseResource).find((r) => r.kind === 'Service');
    const refused = finding.evidence.filter((e) => /^DELETE \S+: the dry-run deletion of /.test(e));
    const blocked = [...new Set(refused.map((e) => e.split(':')[0]!.replace(/^DELETE /, '')))];
    return {
      runbook: 'blocking-webhook',
      summary: `${config?.kind ?? 'a webhook configuration'} ${config?.name ?? ''}: its webhook cannot be called${blocked.length ? `; deleting ${blocked.join(', ')} is refused` : ''}`,
      details: [finding.summary, ...refused],
      data: { kind: config?.kind, config: config?.name, blocked, ...(service ? { service: `${service.namespace}/${service.name}` } : {}), change: finding.rootCause.split('To change: ')[1] ?? finding.rootCause },
    };
  },

  async remediate(ctx, d, raw) {
    const { kind, config, blocked, change } = d.data as { kind?: string; config?: string; blocked: string[]; change: string };
    const p = VerifyParams.safeParse(raw);
    // only a resource the diagnosis saw refused, in the configuration it names, is cut out of its rules
    if (!p.success || kind !== 'ValidatingWebhookConfiguration' || config !== p.data.config || !blocked.includes(p.data.resource)) return { mode: 'manual', actions: [change] };
    const { group, resource } = splitResource(p.data.resource);
    const cut = await cutRuleBlock(ctx, config, group, resource);
    const actions = [`cut the rule block of ${p.data.resource} out of ValidatingWebhookConfiguration ${config} (webhook ${cut.join(', ') || 'none: already cut'})`];
    actions.push(...(await eachObject(ctx, p.data, 'delete')));
    await ctx.kube.apps.patchNamespacedDeployment(
      { namespace: p.data.namespace, name: p.data.backend.deployment, body: { spec: { template: { metadata: { annotations: { [RESTARTED_AT]: new Date().toISOString() } } } } } },
      mergePatch,
    );
    actions.push(`restarted Deployment ${p.data.namespace}/${p.data.backend.deployment}, which writes ${config} again with its full rules`);
    return { mode: 'automatic', actions };
  },

  async verify(ctx, raw): Promise<VerifyResult> {
    const p = VerifyParams.parse(raw);
    const { group, resource } = splitResource(p.resource);
    const objects = await eachObject(ctx, p, 'find');
    const gone = objects.every((o) => o.endsWith(' is gone'));
    const ready = await dependantsReady(ctx, p.namespace, [{ kind: 'Deployment', name: p.backend.deployment }]);
    const cfg = await ctx.kube.kc.makeApiClient(AdmissionregistrationV1Api).readValidatingWebhookConfiguration({ name: p.config });
    const ruleBack = (cfg.webhooks ?? []).some((w) => hasRule(w.rules, group, resource));
    // the webhook answers again: a dry-run deletion through its rules passes
    const probes = ruleBack ? await probeDeletes(ctx, [{ kind: 'ValidatingWebhookConfiguration', name: p.config, webhooks: cfg.webhooks ?? [] }]) : [];
    const callable = probes.length > 0 && probes.every((x) => x.outcome !== 'failed');
    return {
      ok: gone && ready.ok && ruleBack && callable,
      details: [
        ...objects,
        ...ready.details,
        `ValidatingWebhookConfiguration ${p.config}: ${ruleBack ? `the rule block of ${p.resource} is back` : `no rule block of ${p.resource} (the backend has not written it again)`}`,
        ...probes.map((x) => `${x.rule}: dry-run deletion of ${x.object} ${x.outcome}${x.message ? `: ${x.message}` : ''}`),
      ],
    };
  },

  markdown() {
    return MARKDOWN;
  },
};

const MARKDOWN = `# Runbook: an admission webhook that cannot be called blocks deletions

**Signature.** Deleting an object fails with \`Internal error occurred: failed calling webhook "<name>": failed to
call webhook: ... no endpoints available for service\` (or a timeout, or a TLS error), and the object stays. The
webhook's configuration has \`failurePolicy: Fail\` (the default), so every request its rules match is refused
while its backend cannot answer. Nothing records the refusal but the client's error: no event, no condition.

**Diagnose.** List the webhook configurations whose rules match the resource
(\`kubectl get validatingwebhookconfigurations -o yaml\`), check the backend Service's endpoints and pods, and
ask with a dry run: \`kubectl delete <kind> <name> --dry-run=server\` runs admission and changes nothing.

**Remediate.** Cut the rule block of that resource out of the configuration
(\`kubectl edit validatingwebhookconfigurations <name>\`), delete the object, then restart the webhook's backend
(\`kubectl rollout restart deploy -n <ns> <backend>\`): an operator that writes its own webhook configuration puts
the full rules back when it starts. faultline does this only when told the configuration, the resource and the
objects; otherwise it says what to change.

**Verify.** The objects are gone, the backend is ready, the rule block is back, and a dry-run deletion through it
passes.
`;
