// Deploys a scenario's victim with server-side apply through the client library and waits for readiness.
import { PatchStrategy, type KubernetesObject } from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import { apiErrorMessage, isNotFound } from '../cluster/kube.js';
import { builtinFixtures, type FixtureRegistry } from '../fixtures/registry.js';
import { registerSecretValue } from '../core/redact.js';
import type { RunContext } from '../cluster/context.js';
import { readRegularFile } from '../core/files.js';
import { displayPath } from '../core/paths.js';
import { pollUntil } from '../core/poll.js';
import { API_VERSION, readiness } from '../cluster/workloads.js';
import { whyTerminating } from './namespace-wait.js';
import type { LoadedScenario } from './scenario.js';
import type { StageCtx } from './stage.js';

import { isManaged, MANAGED_BY } from '../core/labels.js';

export { MANAGED_BY };
const FIELD_MANAGER = 'faultline';
const CLUSTER_SCOPED = new Set([
  'Namespace',
  'ClusterRole',
  'ClusterRoleBinding',
  'StorageClass',
  'PersistentVolume',
  'CustomResourceDefinition',
  'PriorityClass',
  'ValidatingWebhookConfiguration',
  'MutatingWebhookConfiguration',
  'IngressClass',
  'RuntimeClass',
]);
const SECRETISH = /pass|secret|token|key|credential/i;

export interface DeployOutcome {
  createdNamespace: boolean;
  message: string;
}

export interface Deployer {
  /** createNamespace: makes the victim namespace when it does not exist (the engine journals it first);
   *  once it returns, the namespace is this run's (teardown deletes it even if the wait for readiness is cut short) */
  deploy(ctx: RunContext, scenario: LoadedScenario, s: StageCtx, createNamespace: (ns: string) => Promise<void>): Promise<DeployOutcome>;
  removeNamespace(ctx: RunContext, namespace: string, s: StageCtx): Promise<string>;
}

/** Parses manifest files into objects, defaulting the namespace of namespaced kinds. */
export function readManifests(paths: string[], namespace: string): KubernetesObject[] {
  const objs: KubernetesObject[] = [];
  for (const p of paths) {
    for (const doc of parseAllDocuments(readRegularFile(p), { logLevel: 'error' })) {
      if (doc.errors.length) throw new Error(`${displayPath(p)}: invalid YAML: ${doc.errors[0]!.message.split('\n')[0]}`);
      const obj = doc.toJS() as KubernetesObject | null;
      if (!obj) continue;
      if (!obj.kind || !obj.apiVersion || !obj.metadata?.name) throw new Error(`${displayPath(p)}: every object needs apiVersion, kind and metadata.name`);
      if (!CLUSTER_SCOPED.has(obj.kind)) obj.metadata.namespace ??= namespace;
      objs.push(obj);
    }
  }
  return objs;
}

/** Every container image the objects' pod specs name. */
export function manifestImages(objs: KubernetesObject[]): string[] {
  const images = new Set<string>();
  for (const o of objs as Array<KubernetesObject & Record<string, any>>) {
    const spec = o.spec?.jobTemplate?.spec?.template?.spec ?? o.spec?.template?.spec ?? o.spec;
    for (const c of [...(spec?.containers ?? []), ...(spec?.initContainers ?? [])]) if (typeof c.image === 'string') images.add(c.image);
  }
  return [...images];
}

/** Secret data and secret-looking literal env values of the victim are masked in every report. */
export function registerManifestSecrets(objs: KubernetesObject[]): void {
  for (const o of objs as Array<KubernetesObject & Record<string, any>>) {
    if (o.kind === 'Secret') {
      for (const v of Object.values<string>(o.data ?? {})) registerSecretValue(Buffer.from(v, 'base64').toString('utf8'));
      for (const v of Object.values<string>(o.stringData ?? {})) registerSecretValue(v);
    }
    const spec = o.spec?.template?.spec ?? o.spec;
    for (const c of [...(spec?.containers ?? []), ...(spec?.initContainers ?? [])]) {
      for (const e of c.env ?? []) if (typeof e.value === 'string' && SECRETISH.test(e.name)) registerSecretValue(e.value);
    }
  }
}

export class KubeDeployer implements Deployer {
  constructor(
    private readonly pollMs = 2_000,
    private readonly fixtures: FixtureRegistry = builtinFixtures(),
  ) {}

  async deploy(ctx: RunContext, scenario: LoadedScenario, s: StageCtx, createNamespace: (ns: string) => Promise<void>): Promise<DeployOutcome> {
    const ns = scenario.victim.namespace;
    const objs = readManifests(scenario.manifestPaths, ns);
    registerManifestSecrets(objs);
    if (scenario.victim.preloadImages) {
      const images = manifestImages(objs);
      s.progress(`loading ${images.length} image(s) into the nodes: ${images.join(', ')}`);
      const { skipped } = await ctx.provider.loadImages(ctx.cluster, images);
      if (skipped.length) s.progress(`not in the local Docker, left for the nodes to pull: ${skipped.join(', ')}`);
    }
    const createdNamespace = await this.needsNamespace(ctx, ns);
    if (createdNamespace) await createNamespace(ns);
    const made: string[] = [];
    for (const f of scenario.victim.fixtures) {
      const fixture = this.fixtures.get(f.type);
      if (!fixture) throw new Error(`unknown fixture ${f.type}`);
      s.progress(`fixture ${f.type}`);
      made.push(await fixture.setup(ctx, fixture.paramsSchema.parse(f.params), ns));
    }
    for (const obj of objs) {
      const what = `${obj.kind} ${obj.metadata?.namespace ? obj.metadata.namespace + '/' : ''}${obj.metadata?.name}`;
      s.progress(`applying ${what}`);
      try {
        await ctx.kube.objects.patch(obj, undefined, undefined, FIELD_MANAGER, true, PatchStrategy.ServerSideApply);
      } catch (err) {
        // the API's own message, not the client's dump of the response (headers included)
        throw new Error(`applying ${what}: ${apiErrorMessage(err)}`);
      }
    }
    const wanted = scenario.victim.ready.map((r) => ({ ...r, namespace: r.namespace ?? ns }));
    await pollUntil(
      async () => {
        const pending: string[] = [];
        for (const r of wanted) {
          const obj = await ctx.kube.objects.read({ apiVersion: API_VERSION[r.kind]!, kind: r.kind, metadata: { name: r.name, namespace: r.namespace } });
          const state = readiness(obj as Record<string, any>);
          if (!state.ready) pending.push(`${r.kind} ${r.namespace}/${r.name} (${state.detail})`);
        }
        if (pending.length === 0) return true;
        s.progress(`waiting for ${pending.join(', ')}`);
        return undefined;
      },
      { intervalMs: this.pollMs, signal: s.signal },
    );
    return { createdNamespace, message: `${made.map((m) => `${m}; `).join('')}applied ${objs.length} object(s); ${wanted.length} workload(s) ready` };
  }

  /** True when the namespace must be made; refuses a namespace someone else owns, so a real workload of the
   *  same name (a staging "harbor") is never overwritten. */
  private async needsNamespace(ctx: RunContext, ns: string): Promise<boolean> {
    try {
      const existing = await ctx.kube.core.readNamespace({ name: ns });
      if (!isManaged(existing)) {
        throw new Error(`namespace ${ns} exists and is not managed by faultline; refusing to deploy the victim over it`);
      }
      if (existing.status?.phase === 'Terminating') throw new Error(`namespace ${ns} is still terminating from an earlier run; retry shortly`);
      return false;
    } catch (err) {
      if (!isNotFound(err)) throw err;
      return true;
    }
  }

  async removeNamespace(ctx: RunContext, namespace: string, s: StageCtx): Promise<string> {
    // the API server may be restarting right after a control-plane fault's revert: errors are retried until the
    // namespace is gone (or the teardown deadline ends the wait)
    let asked = false;
    return pollUntil(
      async (n) => {
        let ns;
        try {
          ns = await ctx.kube.core.readNamespace({ name: namespace });
        } catch (err) {
          if (isNotFound(err)) return asked ? `deleted namespace ${namespace}` : `namespace ${namespace} already gone`;
          throw err;
        }
        if (!isManaged(ns)) return `namespace ${namespace} is not ours; left in place`;
        if (!ns.metadata?.deletionTimestamp) await ctx.kube.core.deleteNamespace({ name: namespace });
        asked = true;
        const why = n > 1 ? await whyTerminating(ctx, ns) : undefined;
        s.progress(`waiting for namespace ${namespace} to terminate (poll ${n})${why ? `: ${why}` : ''}`);
        return undefined;
      },
      { intervalMs: this.pollMs, signal: s.signal, onMiss: (n, e) => e && s.progress(`namespace ${namespace} (try ${n}): ${e}`) },
    );
  }
}
