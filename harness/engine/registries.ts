import { builtinDetectors, type DetectorRegistry } from '../detectors/registry.js';
import { builtinFaults, type FaultRegistry } from '../faults/registry.js';
import { builtinIntegrityChecks, type IntegrityRegistry } from '../integrity/registry.js';
import { builtinRunbooks, type RunbookRegistry } from '../runbooks/registry.js';

export interface Registries {
  faults: FaultRegistry;
  detectors: DetectorRegistry;
  runbooks: RunbookRegistry;
  integrity: IntegrityRegistry;
}

export function builtinRegistries(): Registries {
  return {
    faults: builtinFaults(),
    detectors: builtinDetectors(),
    runbooks: builtinRunbooks(),
    integrity: builtinIntegrityChecks(),
  };
}
