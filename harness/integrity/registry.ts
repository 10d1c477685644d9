import { configmapMarker } from './configmap-marker.js';
import { objectsKept } from './objects-kept.js';
import { postgresMarker } from './postgres-marker.js';
import type { AnyIntegrityCheck } from './types.js';

export type IntegrityRegistry = Map<string, AnyIntegrityCheck>;

export function builtinIntegrityChecks(): IntegrityRegistry {
  const all: AnyIntegrityCheck[] = [postgresMarker, configmapMarker, objectsKept];
  return new Map(all.map((c) => [c.id, c]));
}
