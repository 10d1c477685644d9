import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { stateDir } from '../core/paths.js';

export const CLUSTER_PREFIX = 'faultline-';

/** Every cluster this tool makes carries the prefix, so it is recognisable in `kind get clusters`. */
export function clusterName(name?: string): string {
  if (!name) return `${CLUSTER_PREFIX}${randomBytes(3).toString('hex')}`;
  return name.startsWith(CLUSTER_PREFIX) ? name : `${CLUSTER_PREFIX}${name}`;
}

export function kubeconfigPathFor(provider: string, name: string): string {
  return join(stateDir(), 'kubeconfigs', `${provider}-${name}.yaml`);
}
