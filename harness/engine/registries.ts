import { builtinDetectors, type DetectorRegistry } from '../detectors/registry.js';
import { builtinFaults, type FaultRegistry } from '../faults/registry.js';
import { builtinFixtures, type FixtureRegistry } from '../fixtures/registry.js';
import { builtinIntegrityChecks, type IntegrityRegistry } from '../integrity/registry.js';
import { builtinLoadProbes, type LoadProbeRegistry } from '../load/registry.js';
import { builtinRunbooks, type RunbookRegistry } from '../runbooks/registry.js';

export interface Registries {
  faults: FaultRegistry;
  detectors: DetectorRegistry;
  runbooks: RunbookRegistry;
  integrity: IntegrityRegistry;
  /** optional (scenarios without fixtures or load need neither); the built-in ones when absent */
  fixtures?: FixtureRegistry;
  loadProbes?: LoadProbeRegistry;
}

export function builtinRegistries(): Registries {
  return {
    faults: builtinFaults(),
    detectors: builtinDetectors(),
    runbooks: builtinRunbooks(),
    integrity: builtinIntegrityChecks(),
    fixtures: builtinFixtures(),
    loadProbes: builtinLoadProbes(),
  };
}
