// What the stages of one scenario run share: the scenario, its journal and report, and what earlier stages
// found (the context, the journal entries to revert, when the fault went in, what was detected).
import type { RunContext } from '../cluster/context.js';
import type { ClusterRef, Provider } from '../cluster/types.js';
import type { KubeClients } from '../cluster/kube.js';
import type { Finding } from '../detectors/types.js';
import type { Diagnosis } from '../runbooks/types.js';
import type { LoadResult } from '../load/types.js';
import type { ScenarioReport, StageReport } from '../report/types.js';
import type { StageName } from '../core/stages.js';
import type { Deployer } from './deploy.js';
import { applyJournaled, type JournalEntry, type RunJournal } from './journal.js';
import type { Registries } from './registries.js';
import { reportIncident, type LoadedScenario } from './scenario.js';
import { realClock, type Clock, type StageCtx, type StageFn } from './stage.js';

export interface ScenarioDeps {
  provider: Provider;
  registries: Registries;
  connect(ref: ClusterRef): KubeClients;
  deployer: Deployer;
  clock?: Clock;
  pollIntervalMs?: number;
  onProgress?(scenario: string, stage: StageName, msg: string): void;
  log?(msg: string): void;
  /** test hook (see holdAfterApplyMs); defaults to $FAULTLINE_TEST_HOLD_AFTER_APPLY_MS */
  holdAfterApplyMs?: number;
}

export interface ScenarioRunInput {
  scenario: LoadedScenario;
  runId: string;
  cluster: ClusterRef;
  journal: RunJournal;
  runSignal: AbortSignal;
  /** provision stage already run by the suite */
  provision: StageReport;
  /** the suite's cleanup for this scenario; gets whether this run created the victim namespace */
  teardown(ctx: RunContext | undefined, createdNamespace: boolean): StageFn;
  /** --keep: the namespace this run made stays, and its journal entry is closed as kept */
  keep: boolean;
}

export class RunState {
  readonly sc: LoadedScenario;
  readonly report: ScenarioReport;
  readonly clock: Clock;
  readonly pollMs: number;
  readonly log: (msg: string) => void;
  base: RunContext | undefined;
  /** journal entries this run applied (set-ups and the fault), in order; revert undoes them newest first */
  readonly injected: JournalEntry[] = [];
  createdNamespace = false;
  namespaceEntry: JournalEntry | undefined;
  injectEnd: number | undefined;
  detectedAt: number | undefined;
  /** when expected alerts held the fault past detection: the end of that hold */
  heldUntil: number | undefined;
  detected: Finding[] = [];
  /** the finding diagnose worked from (what --runbook-exec is told) */
  diagnosed: Finding | undefined;
  diagnosis: Diagnosis | undefined;

  constructor(
    readonly input: ScenarioRunInput,
    readonly deps: ScenarioDeps,
    /** the hold-after-apply test hook, or the error its value gave */
    readonly hold: { ms: number; error?: unknown },
  ) {
    this.sc = input.scenario;
    this.clock = deps.clock ?? realClock;
    this.pollMs = deps.pollIntervalMs ?? 2_000;
    this.log = deps.log ?? (() => {});
    this.report = {
      id: this.sc.id,
      title: this.sc.title,
      status: 'passed',
      incident: reportIncident(this.sc.incident),
      ttdSeconds: null,
      ttrSeconds: null,
      standardAlert: this.sc.standardAlert,
      ...(this.sc.drill ? { recovery: 'drill' as const } : this.sc.recovery === 'self' ? { recovery: 'self' as const } : {}),
      stages: [input.provision],
      findings: [],
      integrity: [],
    };
  }

  get journal(): RunJournal {
    return this.input.journal;
  }

  get selfHeal(): boolean {
    return this.sc.recovery === 'self';
  }

  /** `faultline drill`: people find and fix it; TTR runs from the end of inject */
  get drill(): boolean {
    return this.sc.drill !== undefined;
  }

  /** The run's context with a stage's signal (deploy makes the base). */
  ctx(s: StageCtx): RunContext {
    return { ...this.base!, signal: s.signal };
  }

  /** Plan, journal, apply; the entry joins what revert undoes as soon as it is journaled. */
  apply(ctx: RunContext, type: string, params: unknown, id: string): Promise<JournalEntry> {
    return applyJournaled(ctx, this.deps.registries.faults, this.journal, { scenario: this.sc.id, id, type, params }, (e) => this.injected.push(e));
  }

  recordLoad(r: LoadResult): void {
    (this.report.load ??= []).push(r);
  }
}

/** One stage of the run: kind's cluster creation is a list of actions; a scenario run is a list of these. */
export interface Stage {
  readonly name: StageName;
  /** runs even after an earlier stage failed or the run was interrupted, and without the run's signal */
  readonly always?: boolean;
  /** a reason to skip it in this run (a self-healing scenario has nothing to detect) */
  skip?(st: RunState): string | undefined;
  /** seconds beyond the scenario's deadline for it (the inject hold) */
  extraSeconds?(st: RunState): number;
  run(st: RunState, s: StageCtx): Promise<string | void>;
}

export function round2(n: number): number {
  return Math.round(n * 100) / 100;
}
