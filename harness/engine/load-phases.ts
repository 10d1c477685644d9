// The engine's use of a scenario's load probe: one run per phase (before the fault, during detection, after
// the fix), each recorded in the report. Kept out of scenario-run.ts so the flow there stays readable.
import type { RunContext } from '../cluster/context.js';
import type { LoadedScenario } from './scenario.js';
import { builtinLoadProbes, type LoadProbeRegistry } from '../load/registry.js';
import type { LoadPhase, LoadResult } from '../load/types.js';

/** Runs the scenario's probe for one phase; undefined when the scenario has no load. */
export async function runLoadPhase(ctx: RunContext, sc: LoadedScenario, phase: LoadPhase, signal: AbortSignal, probes: LoadProbeRegistry = builtinLoadProbes()): Promise<LoadResult | undefined> {
  if (!sc.load) return undefined;
  const probe = probes.get(sc.load.probe);
  if (!probe) throw new Error(`unknown load probe ${sc.load.probe}`);
  const seconds = phase === 'before' ? sc.load.beforeSeconds : phase === 'during' ? sc.load.duringSeconds : sc.load.afterSeconds;
  ctx.log(`load ${phase}: ${sc.load.probe} for ${seconds} s`);
  return probe.run({ ...ctx, signal }, probe.paramsSchema.parse(sc.load.params), { phase, seconds, scenarioDir: sc.dir, namespace: sc.victim.namespace, signal });
}
