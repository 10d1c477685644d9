import type { KubeContext } from '../engine/context.js';
import { crashloopDetector } from './crashloop.js';
import { dedupeFindings } from './dedupe.js';
import { statefulsetEnvConflictDetector } from './statefulset-env-conflict.js';
import type { AnyDetector, Finding } from './types.js';

export type DetectorRegistry = Map<string, AnyDetector>;

export function builtinDetectors(): DetectorRegistry {
  const all: AnyDetector[] = [statefulsetEnvConflictDetector, crashloopDetector];
  return new Map(all.map((d) => [d.id, d]));
}

/** Runs every detector; detectors sharing a collect function share one snapshot (one round of API reads). */
export async function scanAll(ctx: KubeContext, detectors: DetectorRegistry): Promise<Finding[]> {
  const snapshots = new Map<unknown, Promise<unknown>>();
  const findings: Finding[] = [];
  for (const d of detectors.values()) {
    if (!snapshots.has(d.collect)) snapshots.set(d.collect, d.collect(ctx));
    findings.push(...d.analyze(await snapshots.get(d.collect)));
  }
  const generic = new Set([...detectors.values()].filter((d) => d.generic).map((d) => d.id));
  return dedupeFindings(findings, generic);
}
