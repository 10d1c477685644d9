// k6 from the host against a Service's NodePort over plain HTTP, in bursts: `burst` requests sent together at
// every `intervalMs` boundary and nothing between them (harness/load/k6/bursts.ts). The traffic of a
// latency-sensitive service whose load comes in spikes: low average use, high peaks. Measures the request
// latency percentiles as well as failures.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { z } from 'zod';
import type { RunContext } from '../cluster/context.js';
import { repoRoot } from '../core/paths.js';
import { loadResult, nodePortUrl, reachableFirst, runK6 } from './k6.js';
import type { LoadPhase, LoadProbe, LoadResult } from './types.js';

export const K6BurstsParams = z
  .object({
    service: z.string().min(1),
    port: z.string().min(1).default('http'),
    path: z.string().startsWith('/').default('/'),
    /** requests sent together in each burst */
    burst: z.number().int().positive().max(200).default(6),
    /** the time from one burst to the next */
    intervalMs: z.number().int().min(100).max(60_000).default(1000),
    /** relative to the scenario folder; default: faultline's own bursts script */
    script: z.string().min(1).optional(),
  })
  .strict();
export type K6BurstsParams = z.infer<typeof K6BurstsParams>;

export const BURSTS_SCRIPT = 'harness/load/k6/bursts.ts';

/** One burst run of `seconds` against the Service (used by the load probe and by runbooks that verify under load). */
export async function runBursts(ctx: RunContext, p: K6BurstsParams, run: { phase: LoadPhase; seconds: number; namespace: string; scenarioDir?: string; signal: AbortSignal }): Promise<LoadResult> {
  const target = await nodePortUrl(ctx, run.namespace, p.service, p.port, p.path, 'http');
  if (run.phase === 'before') await reachableFirst(ctx, target, run.signal);
  const dir = mkdtempSync(join(tmpdir(), 'faultline-k6-'));
  const startedAt = new Date();
  try {
    const script = !p.script ? join(repoRoot(), BURSTS_SCRIPT) : isAbsolute(p.script) ? p.script : resolve(run.scenarioDir ?? '.', p.script);
    const out = await runK6(
      script,
      { TARGET_URL: target, BURST: String(p.burst), INTERVAL_MS: String(p.intervalMs), DURATION: `${run.seconds}s`, HOME: dir },
      join(dir, 'summary.json'),
      { signal: run.signal, timeoutMs: (run.seconds + 60) * 1000 },
    );
    return loadResult('k6-bursts', run.phase, target, startedAt, out);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export const k6Bursts: LoadProbe<K6BurstsParams> = {
  id: 'k6-bursts',
  description: "k6 in bursts (requests sent together, then a pause) to a Service's NodePort over HTTP from the host, with latency percentiles",
  paramsSchema: K6BurstsParams,
  run: (ctx, p, run) => runBursts(ctx, p, run),
};
