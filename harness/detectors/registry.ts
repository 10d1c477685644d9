import type { KubeContext } from '../cluster/context.js';
import type { KubeClients } from '../cluster/kube.js';
import { bounded } from '../core/poll.js';
import type { ClusterRef, NodeRef, Provider } from '../cluster/types.js';
import { admissionWebhooksDetector } from './admission-webhooks.js';
import { podCreateRefusedDetector } from './pod-create-refused.js';
import { containerConfigDetector } from './container-config.js';
import { nodeHealthDetector } from './node-health.js';
import { podEgressDetector } from './pod-egress.js';
import { podPendingDetector } from './pod-pending.js';
import { controlPlaneCertsDetector } from './control-plane-certs.js';
import { cpuThrottlingDetector } from './cpu-throttling.js';
import { crashloopDetector } from './crashloop.js';
import { dedupeFindings } from './dedupe.js';
import { etcdDiskLatencyDetector } from './etcd-disk-latency.js';
import { etcdLivenessRestartsDetector } from './etcd-liveness-restarts.js';
import { registryMirrorDetector } from './registry-mirror.js';
import { staleWorkloadCertsDetector } from './stale-workload-certs.js';
import { statefulsetEnvConflictDetector } from './statefulset-env-conflict.js';
import type { AnyDetector, Finding } from './types.js';

export type DetectorRegistry = Map<string, AnyDetector>;

export function builtinDetectors(): DetectorRegistry {
  const all: AnyDetector[] = [statefulsetEnvConflictDetector, crashloopDetector, etcdDiskLatencyDetector, etcdLivenessRestartsDetector, registryMirrorDetector, staleWorkloadCertsDetector, controlPlaneCertsDetector, podCreateRefusedDetector, podPendingDetector, containerConfigDetector, nodeHealthDetector, admissionWebhooksDetector, cpuThrottlingDetector, podEgressDetector];
  return new Map(all.map((d) => [d.id, d]));
}

/** A detector whose reads hang (an API server whose etcd is down answers after its own 60 s timeout) must not
 *  hold up the others: past this, its collect counts as failed for this scan (it only reads; it is left to end). */
export const COLLECT_TIMEOUT_MS = 20_000;

export interface DetectorError {
  detector: string;
  message: string;
}

/** One scan: every finding, and every detector that could not look, with its own error (none is dropped). */
export interface Scan {
  findings: Finding[];
  errors: DetectorError[];
  /** seconds each detector's collect took (detectors sharing a collect function share its time) */
  collectSeconds: Record<string, number>;
}

/** A scan that found nothing while detectors could not look: not "quiet". Names every failing detector. */
export class ScanFailed extends Error {
  constructor(readonly errors: DetectorError[]) {
    super(errors.map((e) => `detector ${e.detector}: ${e.message}`).join('; '));
    this.name = 'ScanFailed';
  }
}

/** Page size of the list calls a scan makes (kubectl's default): no single answer holds a whole large cluster. */
export const LIST_PAGE = 500;

/** Reads every page of a typed list call (`{ limit, _continue }` parameters) into one answer. */
async function allPages(list: (arg: object) => Promise<any>, arg: unknown): Promise<unknown> {
  const base = (arg && typeof arg === 'object' ? arg : {}) as Record<string, unknown>;
  const first = await list({ ...base, limit: LIST_PAGE });
  let next = first?.metadata?._continue as string | undefined;
  while (next) {
    const page = await list({ ...base, limit: LIST_PAGE, _continue: next });
    first.items.push(...page.items);
    next = page?.metadata?._continue;
  }
  if (first?.metadata) delete first.metadata._continue;
  return first;
}

/** The API clients with every list call paged and remembered for one scan: detectors that read the same kind
 *  (every pod, every Warning event) share one request and one answer, whichever collect function asks. The generic
 *  object API (positional arguments) is remembered but not paged. */
export function scanReads(kube: KubeClients): KubeClients {
  const cache = new Map<string, Promise<unknown>>();
  const wrap = <T extends object>(api: T, name: string, paged: boolean): T =>
    typeof api !== 'object' || api === null ? api : new Proxy(api, {
      get(target, prop, receiver) {
        const value = Reflect.get(target, prop, receiver) as unknown;
        if (typeof value !== 'function' || !String(prop).startsWith('list')) return value;
        const call = (...a: unknown[]) => (value as (...x: unknown[]) => Promise<unknown>).apply(target, a);
        return (...args: unknown[]) => {
          const key = `${name}.${String(prop)}:${JSON.stringify(args)}`;
          if (!cache.has(key)) cache.set(key, paged && args.length <= 1 ? allPages(call, args[0]) : call(...args));
          return cache.get(key);
        };
      },
    });
  return { ...kube, core: wrap(kube.core, 'core', true), apps: wrap(kube.apps, 'apps', true), objects: wrap(kube.objects, 'objects', false) };
}

/** The context's provider (when it has one) with its node list read once per scan: every node-level detector
 *  asks for it, and each answer is a round trip to the provider. */
function scanNodes(ctx: KubeContext): KubeContext {
  const provider = (ctx as KubeContext & { provider?: Provider }).provider;
  if (!provider) return ctx;
  const lists = new Map<string, Promise<NodeRef[]>>();
  const once: Provider = Object.create(provider);
  once.nodes = (ref: ClusterRef) => {
    if (!lists.has(ref.name)) lists.set(ref.name, provider.nodes(ref));
    return lists.get(ref.name)!;
  };
  return { ...ctx, provider: once } as KubeContext;
}

/** Runs every detector; detectors sharing a collect function share one snapshot (one round of API reads), and
 *  every list (API objects, the provider's nodes) is read once per scan (scanReads, scanNodes). */
export async function scan(ctx0: KubeContext, detectors: DetectorRegistry): Promise<Scan> {
  const ctx = { ...scanNodes(ctx0), kube: scanReads(ctx0.kube) };
  const snapshots = new Map<unknown, Promise<unknown>>();
  const findings: Finding[] = [];
  const errors: DetectorError[] = [];
  // all reads start together, so a hanging one does not delay the others
  const took = new Map<unknown, number>();
  const t0 = Date.now();
  for (const d of detectors.values()) {
    if (!snapshots.has(d.collect)) snapshots.set(d.collect, bounded(d.collect(ctx), COLLECT_TIMEOUT_MS, `detector ${d.id}`).finally(() => took.set(d.collect, (Date.now() - t0) / 1000)));
  }
  const collectSeconds: Record<string, number> = {};
  for (const d of detectors.values()) {
    try {
      findings.push(...d.analyze(await snapshots.get(d.collect)));
    } catch (err) {
      // e.g. the API server is down: node-level detectors (etcd) still report, and every error is kept
      errors.push({ detector: d.id, message: err instanceof Error ? err.message : String(err) });
    }
    collectSeconds[d.id] = took.get(d.collect) ?? 0;
  }
  const generic = new Set([...detectors.values()].filter((d) => d.generic).map((d) => d.id));
  return { findings: dedupeFindings(findings, generic), errors, collectSeconds };
}

/** The findings of a scan; throws ScanFailed (every error) when it found nothing while a detector failed. */
export async function scanAll(ctx: KubeContext, detectors: DetectorRegistry): Promise<Finding[]> {
  const res = await scan(ctx, detectors);
  if (res.errors.length > 0 && res.findings.length === 0) throw new ScanFailed(res.errors);
  return res.findings;
}
