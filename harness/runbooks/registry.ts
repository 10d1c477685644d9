import { podCreateRefusedRunbook } from './pod-create-refused.js';
import { blockingWebhookRunbook } from './blocking-webhook.js';
import { manualChangeRunbook } from './manual-change.js';
import { controlPlaneCertsRunbook } from './control-plane-certs.js';
import { cpuThrottlingRunbook } from './cpu-throttling.js';
import { crashloopRunbook } from './crashloop.js';
import { etcdLivenessProbeRunbook } from './etcd-liveness-probe.js';
import { etcdSlowDiskRunbook } from './etcd-slow-disk.js';
import { registryMirrorFallbackRunbook } from './registry-mirror-fallback.js';
import { staleNatRuleRunbook } from './stale-nat-rule.js';
import { staleWorkloadCertsRunbook } from './stale-workload-certs.js';
import { statefulsetEnvConflictRunbook } from './statefulset-env-conflict.js';
import type { Runbook } from './types.js';

export type RunbookRegistry = Map<string, Runbook>;

export function builtinRunbooks(): RunbookRegistry {
  const all: Runbook[] = [statefulsetEnvConflictRunbook, crashloopRunbook, etcdSlowDiskRunbook, etcdLivenessProbeRunbook, registryMirrorFallbackRunbook, staleWorkloadCertsRunbook, controlPlaneCertsRunbook, podCreateRefusedRunbook, blockingWebhookRunbook, cpuThrottlingRunbook, staleNatRuleRunbook, manualChangeRunbook];
  return new Map(all.map((r) => [r.id, r]));
}
