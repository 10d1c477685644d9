// Kubernetes API access through the client library. One KubeClients per cluster ref.
import { existsSync } from 'node:fs';
import {
  ApiException,
  AppsV1Api,
  CoreV1Api,
  DiscoveryV1Api,
  KubeConfig,
  KubernetesObjectApi,
  PatchStrategy,
  VersionApi,
  setHeaderOptions,
  type V1LabelSelector,
} from '@kubernetes/client-node';
import { UserError } from '../core/errors.js';
import type { ClusterRef } from './types.js';

export interface KubeClients {
  kc: KubeConfig;
  core: CoreV1Api;
  apps: AppsV1Api;
  objects: KubernetesObjectApi;
}

export function loadKubeConfig(kubeconfigPath: string, context: string): KubeConfig {
  if (!existsSync(kubeconfigPath)) {
    throw new UserError(`kubeconfig ${kubeconfigPath} does not exist`, 'pass --context with a valid KUBECONFIG, or create a cluster with `faultline cluster up`');
  }
  const kc = new KubeConfig();
  try {
    kc.loadFromFile(kubeconfigPath);
  } catch (err) {
    throw new UserError(`kubeconfig ${kubeconfigPath} cannot be read (${(err as Error).message})`, 'fix or replace that file');
  }
  if (!kc.getContextObject(context)) {
    throw new UserError(`context "${context}" is not in ${kubeconfigPath}`, 'pick one from `kubectl config get-contexts`');
  }
  kc.setCurrentContext(context);
  return kc;
}

export function connect(ref: Pick<ClusterRef, 'kubeconfigPath' | 'context'>): KubeClients {
  const kc = loadKubeConfig(ref.kubeconfigPath, ref.context);
  return {
    kc,
    core: kc.makeApiClient(CoreV1Api),
    apps: kc.makeApiClient(AppsV1Api),
    objects: KubernetesObjectApi.makeApiClient(kc),
  };
}

/** A cheap read (GET /version) with a short timeout, so an unreachable cluster is a clear error before any change. */
export async function checkReachable(kc: KubeConfig, timeoutMs = 5_000): Promise<void> {
  const api = kc.makeApiClient(VersionApi);
  const server = kc.getCurrentCluster()?.server ?? '(no server)';
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs / 1000}s`)), timeoutMs);
    timer.unref();
  });
  try {
    await Promise.race([api.getCode(), timeout]);
  } catch (err) {
    const why = err instanceof ApiException ? `HTTP ${err.code}` : shortCause(err);
    throw new UserError(
      `cluster at ${server} (context "${kc.getCurrentContext()}") is unreachable: ${why}`,
      'check that the cluster is running and the context is right',
    );
  } finally {
    clearTimeout(timer);
  }
}

function shortCause(err: unknown): string {
  const e = err as { message?: string; cause?: { code?: string }; code?: string };
  return e?.cause?.code ?? e?.code ?? (e?.message ?? String(err)).split('\n')[0]!;
}

export function isNotFound(err: unknown): boolean {
  return err instanceof ApiException && err.code === 404;
}

/** A read that answers undefined for an object that does not exist (other errors propagate). */
export async function unlessNotFound<T>(read: Promise<T>): Promise<T | undefined> {
  try {
    return await read;
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

export function isConflict(err: unknown): boolean {
  return err instanceof ApiException && err.code === 409;
}

export const jsonPatch = setHeaderOptions('Content-Type', PatchStrategy.JsonPatch);
export const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

export interface JsonPatchOp {
  op: 'add' | 'remove' | 'replace' | 'test';
  path: string;
  value?: unknown;
}

/** A LabelSelector in the API's query syntax ("a=b,c in (d,e),!f"). */
export function selectorQuery(s: V1LabelSelector | undefined): string {
  if (!s) return '';
  return [
    ...Object.entries(s.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`),
    ...(s.matchExpressions ?? []).map((e) =>
      e.operator === 'In' ? `${e.key} in (${(e.values ?? []).join(',')})` : e.operator === 'NotIn' ? `${e.key} notin (${(e.values ?? []).join(',')})` : e.operator === 'Exists' ? e.key : `!${e.key}`,
    ),
  ].join(',');
}

/** Ready and not-ready endpoints of a Service, from its EndpointSlices (an endpoint without a ready condition
 *  counts as ready, as the API defines it). */
export async function serviceEndpoints(kc: KubeConfig, namespace: string, service: string): Promise<{ ready: number; notReady: number }> {
  const slices = await kc.makeApiClient(DiscoveryV1Api).listNamespacedEndpointSlice({ namespace, labelSelector: `kubernetes.io/service-name=${service}` });
  const endpoints = slices.items.flatMap((s) => s.endpoints ?? []);
  const ready = endpoints.filter((e) => e.conditions?.ready !== false).length;
  return { ready, notReady: endpoints.length - ready };
}

/** Escapes one JSON-pointer segment (RFC 6901). */
export function ptr(segment: string | number): string {
  return String(segment).replace(/~/g, '~0').replace(/\//g, '~1');
}

/** API errors carry a JSON body; keep its message, which is what a person needs to read. */
export function apiErrorMessage(err: unknown): string {
  if (err instanceof ApiException) {
    const body = err.body as unknown;
    let msg: string | undefined;
    if (typeof body === 'string') {
      try {
        msg = (JSON.parse(body) as { message?: string }).message;
      } catch {
        msg = body.slice(0, 300);
      }
    } else if (body && typeof body === 'object') msg = (body as { message?: string }).message;
    return `HTTP ${err.code}${msg ? `: ${msg}` : ''}`;
  }
  return err instanceof Error ? err.message : String(err);
}
