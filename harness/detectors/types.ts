import type { KubeContext } from '../cluster/context.js';

export type Severity = 'critical' | 'warning' | 'info';

export interface Finding {
  detector: string;
  severity: Severity;
  summary: string;
  rootCause: string;
  evidence: string[];
  /** id of the runbook that handles this finding */
  runbook: string;
  /** "namespace/Kind/name"; the first one is the resource the finding is about */
  resources: string[];
}

/** collect() does the API reads (read-only) into a plain snapshot; analyze() is pure, so it is tested on fixtures. */
export interface Detector<S = unknown> {
  id: string;
  description: string;
  /** generic detectors yield to specific ones that already explain the same resource */
  generic?: boolean;
  collect(ctx: KubeContext): Promise<S>;
  analyze(snapshot: S): Finding[];
}

// registries hold detectors of different snapshot types
export type AnyDetector = Detector<any>;

export function resourceId(namespace: string, kind: string, name: string): string {
  return `${namespace}/${kind}/${name}`;
}
