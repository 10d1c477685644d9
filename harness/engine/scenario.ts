// The scenario file format (scenarios/<id>/scenario.yaml). Adding a scenario is adding data, not code.
import type { ExternalStack } from '../alerts/external.js';
import { z } from 'zod';
import { CitationSchema, citationText, type Citation } from '../core/citation.js';
import { secondsSchema } from '../core/durations.js';
import { STAGE_ORDER, deadlineKey, type DeadlineKey } from '../core/stages.js';

const Params = z.record(z.string(), z.unknown());
const Seconds = secondsSchema();

export const ReadyRef = z
  .object({
    kind: z.enum(['Deployment', 'StatefulSet', 'DaemonSet', 'Pod', 'Job']),
    name: z.string().min(1),
    namespace: z.string().min(1).optional(),
  })
  .strict();

export const Deadlines = z
  .object(Object.fromEntries(STAGE_ORDER.map((n) => [deadlineKey(n), Seconds])) as Record<DeadlineKey, typeof Seconds>)
  .strict()
  .partial();

export const DEFAULT_DEADLINES: Record<DeadlineKey, number> = {
  provision: 900,
  deploy: 300,
  steadyState: 180,
  inject: 60,
  detect: 120,
  diagnose: 60,
  remediate: 120,
  verify: 300,
  revert: 180,
  teardown: 300,
};

export const ScenarioSchema = z
  .object({
    id: z.string().regex(/^[a-z0-9][a-z0-9-]*$/, 'lower-case letters, digits and dashes'),
    title: z.string().min(1),
    /** the incident it replays, cited as a reader can find it, and summarised in our own words */
    incident: CitationSchema.extend({ summary: z.string().min(1) }).strict(),
    cluster: z
      .object({
        /** kind config, relative to the repository root */
        config: z.string().min(1).optional(),
        needs: z.array(z.enum(['kubeadm', 'nodeExec', 'nodeExecWithoutApi', 'hostPid'])).default([]),
      })
      .strict()
      .default({ needs: [] }),
    /** "cluster" (default): the scenario runs alone on its cluster. "namespace": everything it changes is in its
     *  victim namespace (faults and runbook of scope namespace, no node access, no alerting stack), so `faultline
     *  run --parallel N` may run it alongside other such scenarios in other namespaces; checked at load */
    isolation: z.enum(['cluster', 'namespace']).default('cluster'),
    victim: z
      .object({
        namespace: z.string().min(1),
        /** relative to the scenario folder */
        manifests: z.array(z.string().min(1)).min(1),
        ready: z.array(ReadyRef).default([]),
        readyTimeoutSeconds: Seconds.default(300),
        /** copy the manifests' images into the nodes before deploying (nodes may have no registry);
         *  false for scenarios whose point is a pull that must really go to a registry */
        preloadImages: z.boolean().default(true),
        /** faults applied (journalled, reverted after the fault) before the manifests: what the victim needs
         *  outside the cluster, e.g. the upstream registry standing in for docker.io */
        setup: z.array(z.object({ type: z.string().min(1), params: Params.default({}) }).strict()).default([]),
        /** registered fixtures made after the namespace exists and before the manifests are applied (generated
         *  certificates in Secrets); optional */
        fixtures: z.array(z.object({ type: z.string().min(1), params: Params.default({}) }).strict()).default([]),
      })
      .strict(),
    fault: z.object({ type: z.string().min(1), params: Params.default({}) }).strict(),
    detect: z
      .object({
        expect: z.array(z.string().min(1)).min(1),
        /** substrings that must appear in the expected findings (e.g. the controller's FailedCreate text)
         *  before detection counts, so the report proves the real signature, not just the static cause */
        evidence: z.array(z.string().min(1)).default([]),
        /** namespace the expected findings' resources are in (default: victim.namespace), e.g. kube-system for
         *  faults on the control plane itself */
        namespace: z.string().min(1).optional(),
        /** how many findings of the expected detectors detection needs (default 1): a fault on several members or
         *  nodes names each, and a first scan may catch only some of them */
        findings: z.number().int().min(1).default(1),
        deadlineSeconds: Seconds.default(120),
      })
      .strict(),
    runbook: z
      .object({
        id: z.string().min(1),
        params: Params.default({}),
        /** optional: a command (sh -c) that remediates instead of the runbook's own remediate(); the runbook's
         *  diagnose and verify still run (verify decides) */
        exec: z.string().min(1).optional(),
      })
      .strict(),
    /** "runbook" (default): detect, diagnose and remediate, then verify. "self": the cluster must recover on its
     *  own; detect, diagnose and remediate are skipped and verify (the runbook's check) must pass, TTR counted
     *  from the end of the inject stage */
    recovery: z.enum(['runbook', 'self']).default('runbook'),
    /** optional: what users of the victim notice, in their words; a drill tells on-call this and never the fault */
    symptom: z.string().min(1).optional(),
    /** optional: a registered load probe run before the fault, during detection and after the fix; with
     *  requireCleanAfter, verify passes only when the run after the fix has no failed request */
    load: z
      .object({
        probe: z.string().min(1),
        params: Params.default({}),
        beforeSeconds: Seconds.default(10),
        duringSeconds: Seconds.default(20),
        afterSeconds: Seconds.default(15),
        requireCleanAfter: z.boolean().default(true),
      })
      .strict()
      .optional(),
    integrity: z.array(z.object({ check: z.string().min(1), params: Params.default({}) }).strict()).default([]),
    /** optional: alerts that must fire while the fault is in place (seconds from the end of inject); a run with
     *  them deploys the alerting stack (docs/alerts.md) */
    alerts: z
      .object({ expect: z.array(z.object({ name: z.string().min(1), within: Seconds }).strict()).default([]) })
      .strict()
      .optional(),
    deadlines: Deadlines.default({}),
    standardAlert: z
      .object({
        name: z.string().min(1),
        waitSeconds: Seconds,
        /** optional: what the alert cannot see in this failure (printed beside TTD) */
        note: z.string().min(1).optional(),
      })
      .strict(),
  })
  .strict();

export type Scenario = z.infer<typeof ScenarioSchema>;
export type StageDeadlines = Record<DeadlineKey, number>;

export interface LoadedScenario extends Scenario {
  /** absolute folder of the scenario */
  dir: string;
  /** absolute path of scenario.yaml */
  file: string;
  manifestPaths: string[];
  clusterConfigPath?: string;
  stageDeadlines: StageDeadlines;
  /** set when this run deploys the alerting stack (--alerts, or the scenario's alerts block) */
  alerting?: AlertingPlan;
  /** set by `faultline drill`: people fix it, within this many seconds of the end of inject */
  drill?: { deadlineSeconds: number };
}

export interface AlertingPlan {
  expect: Array<{ name: string; within: number }>;
  /** alerts the user's rule files define (reported with source "user") */
  userAlerts: string[];
  /** alerts of the standard set (source "builtin") */
  builtinAlerts: string[];
  /** the team's own stack (--prometheus): read, nothing deployed; every alert's source is "external" */
  external?: ExternalStack;
}

/** The incident as a report shows it: the citation as one line, its parts, and the summary. */
export function reportIncident(i: Scenario['incident']): { source: string; summary: string; citation: Citation } {
  const { summary, ...citation } = i;
  return { source: citationText(citation), summary, citation };
}
