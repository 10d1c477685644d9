// What every fault, detector, runbook and integrity check is handed: one cluster, its API clients, a way to log.
import type { KubeClients } from './kube.js';
import type { ClusterRef, Provider } from './types.js';

export interface KubeContext {
  kube: KubeClients;
  /** restricts reads to these namespaces; undefined = the whole cluster */
  namespaces?: string[];
  signal?: AbortSignal;
  log?(msg: string): void;
}

export interface RunContext extends KubeContext {
  runId: string;
  cluster: ClusterRef;
  provider: Provider;
  log(msg: string): void;
}
