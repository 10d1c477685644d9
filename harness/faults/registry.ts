import { etcdFsyncDelay } from './etcd-fsync-delay.js';
import { etcdMembersFsyncDelay } from './etcd-members-fsync-delay.js';
import { etcdLivenessProbe } from './etcd-liveness-probe.js';
import { registryMirrorOutage } from './registry-mirror-outage.js';
import { registryUpstream } from './registry-upstream.js';
import { mtlsCaRotation } from './mtls-ca-rotation.js';
import { controlPlaneCert } from './control-plane-cert.js';
import { statefulsetEnvConflict } from './statefulset-env-conflict.js';
import { victimNamespace } from './victim-namespace.js';
import { psaClusterDefault } from './psa-cluster-default.js';
import { clusterObjects } from './cluster-objects.js';
import { webhookBackendHang } from './webhook-backend-hang.js';
import { cpuLimit } from './cpu-limit.js';
import { natStaleRule } from './nat-stale-rule.js';
import { externalEndpoint } from './external-endpoint.js';
import { nodeAgent } from './node-agent.js';
import { alertingStack } from '../alerts/stack.js';
import type { AnyFault } from './types.js';

export type FaultRegistry = Map<string, AnyFault>;

export function builtinFaults(): FaultRegistry {
  const all: AnyFault[] = [statefulsetEnvConflict, etcdFsyncDelay, etcdMembersFsyncDelay, etcdLivenessProbe, registryUpstream, registryMirrorOutage, mtlsCaRotation, controlPlaneCert, psaClusterDefault, webhookBackendHang, cpuLimit, natStaleRule, clusterObjects, externalEndpoint, victimNamespace, alertingStack, nodeAgent];
  return new Map(all.map((f) => [f.type, f]));
}
