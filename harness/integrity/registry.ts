import { configmapMarker } from './configmap-marker.js';
import { postgresMarker } from './postgres-marker.js';
import type { AnyIntegrityCheck } from './types.js';

export type IntegrityRegistry = Map<string, AnyIntegrityCheck>;

export function builtinIntegrityChecks(): IntegrityRegistry {
  const all: AnyIntegrityCheck[] = [postgresMarker, configmapMarker];
  return new Map(all.map((c) => [c.id, c]));
}
