// The stages of a scenario run after provision, each once: the order is core/stages.ts's STAGE_ORDER, and the
// type makes every stage named there have its implementation here.
import { STAGE_ORDER, type StageName } from '../../core/stages.js';
import type { Stage } from '../run-state.js';
import { deployStage } from './deploy.js';
import { detectStage } from './detect.js';
import { injectStage } from './inject.js';
import { revertStage, teardownStage } from './revert.js';
import { diagnoseStage, remediateStage } from './runbook.js';
import { steadyStateStage } from './steady-state.js';
import { verifyStage } from './verify.js';

const BY_NAME: Record<Exclude<StageName, 'provision'>, Stage> = {
  deploy: deployStage,
  'steady-state': steadyStateStage,
  inject: injectStage,
  detect: detectStage,
  diagnose: diagnoseStage,
  remediate: remediateStage,
  verify: verifyStage,
  revert: revertStage,
  teardown: teardownStage,
};

/** Provision is the suite's (one cluster serves a group of scenarios); the rest are the scenario's. */
export const SCENARIO_STAGES: readonly Stage[] = STAGE_ORDER.filter((n): n is Exclude<StageName, 'provision'> => n !== 'provision').map((n) => BY_NAME[n]);
