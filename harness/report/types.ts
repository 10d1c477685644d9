// Report schema, version 1. Additive changes keep the version; anything else bumps it.
import type { AlertReport } from '../alerts/watch.js';
import type { IntegrityResult } from '../integrity/types.js';
import type { LoadResult } from '../load/types.js';
import type { Citation } from '../core/citation.js';
import type { StageName, StageStatus } from '../core/stages.js';

export interface StageReport {
  name: StageName;
  status: StageStatus;
  startedAt: string;
  endedAt: string;
  durationSeconds: number;
  deadlineSeconds: number;
  message?: string;
}

export interface FindingReport {
  detector: string;
  summary: string;
  rootCause: string;
  evidence: string[];
  runbook: string;
}

export interface ScenarioReport {
  id: string;
  title: string;
  status: 'passed' | 'failed' | 'skipped';
  reason?: string;
  /** source: the citation as one line; citation: its parts (additive field) */
  incident?: { source: string; summary: string; citation?: Citation };
  /** seconds from the end of injection to the expected detector firing; null if it never did */
  ttdSeconds: number | null;
  /** "self": the scenario claims the cluster recovers on its own (no detection or runbook; TTR runs from the end
   *  of the fault); "drill": people worked the incident (`faultline drill`; TTR runs from the end of inject);
   *  absent means "runbook" */
  recovery?: 'runbook' | 'self' | 'drill';
  /** seconds from detection to verified recovery (from the end of inject for recovery "self" and "drill"; from the
   *  end of the hold when expected alerts held the fault past detection); null if never verified */
  ttrSeconds: number | null;
  /** seconds from the same start to the end of the window that confirmed recovery (>= ttrSeconds; additive field) */
  confirmedAfterSeconds?: number;
  standardAlert: { name: string; waitSeconds: number; note?: string };
  stages: StageReport[];
  findings: FindingReport[];
  integrity: IntegrityResult[];
  diagnosis?: { summary: string; details: string[] };
  remediation?: { mode: string; actions: string[] };
  /** the scenario's load probe: before the fault, during detection, after the fix (additive field) */
  load?: LoadResult[];
  /** the team's own remediation (--runbook-exec), when it ran instead of the runbook's (additive field) */
  runbookExec?: { command: string; exitCode: number | null; durationSeconds: number; output: string; timedOut?: boolean };
  /** with the alerting stack: every expected alert, then every other that was pending or firing, times from the
   *  end of inject like TTD (additive field) */
  alerts?: AlertReport[];
}

export interface Report {
  schemaVersion: 1;
  tool: { name: 'faultline'; version: string };
  runId: string;
  startedAt: string;
  endedAt: string;
  cluster: { provider: string; name: string; nodeImage?: string };
  /** set when a signal stopped the run */
  interrupted?: string;
  scenarios: ScenarioReport[];
}
