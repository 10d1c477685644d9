import { k6Bursts } from './k6-bursts.js';
import { k6Mtls } from './k6-mtls.js';
import type { AnyLoadProbe } from './types.js';

export type LoadProbeRegistry = Map<string, AnyLoadProbe>;

export function builtinLoadProbes(): LoadProbeRegistry {
  const all: AnyLoadProbe[] = [k6Mtls, k6Bursts];
  return new Map(all.map((p) => [p.id, p]));
}
