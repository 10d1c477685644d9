// `run --shard I/N`: a deterministic split of the chosen scenarios over N CI jobs. With the durations a previous
// report measured, the split balances them (longest first, each to the shard with the least so far: within 4/3
// of the best split); without, every scenario weighs the same. The same inputs give the same split on every
// machine, so the jobs of one matrix never disagree about who runs what.
import { UserError } from '../core/errors.js';
import type { Report } from '../report/types.js';

export interface Shard {
  /** 1-based */
  index: number;
  count: number;
}

export const MAX_SHARDS = 64;

export function parseShard(text: string): Shard {
  const m = /^(\d+)\/(\d+)$/.exec(text.trim());
  const index = Number(m?.[1]);
  const count = Number(m?.[2]);
  if (!m || count < 1 || count > MAX_SHARDS || index < 1 || index > count) {
    throw new UserError(`--shard "${text}" is not I/N with 1 <= I <= N <= ${MAX_SHARDS}`, 'e.g. --shard 2/3 for the second of three jobs');
  }
  return { index, count };
}

/** Seconds each scenario took in a report (the sum of its stages); skipped scenarios measure nothing. */
export function durationsFrom(reports: Report[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const r of reports) {
    for (const sc of r.scenarios) {
      if (sc.status === 'skipped') continue;
      out.set(sc.id, sc.stages.reduce((sum, s) => sum + s.durationSeconds, 0));
    }
  }
  return out;
}

/** The ids of every shard, each list in the input order. A scenario with no measured duration weighs the median
 *  of those measured (1 when none is). */
export function assignShards(ids: string[], durations: Map<string, number>, count: number): string[][] {
  const known = ids.map((id) => durations.get(id)).filter((d): d is number => d !== undefined).sort((a, b) => a - b);
  const fallback = known.length ? known[Math.floor(known.length / 2)]! : 1;
  const weight = (id: string): number => durations.get(id) ?? fallback;
  const order = [...ids].sort((a, b) => weight(b) - weight(a) || (a < b ? -1 : a > b ? 1 : 0));
  const load = Array.from({ length: count }, () => 0);
  const shardOf = new Map<string, number>();
  for (const id of order) {
    const lightest = load.indexOf(Math.min(...load));
    shardOf.set(id, lightest);
    load[lightest]! += weight(id);
  }
  return load.map((_, i) => ids.filter((id) => shardOf.get(id) === i));
}

/** The scenarios of one shard; a shard may be empty when N exceeds the scenarios (its job then runs nothing). */
export function pickShard<T extends { id: string }>(scenarios: T[], shard: Shard, durations: Map<string, number>): T[] {
  const mine = new Set(assignShards(scenarios.map((s) => s.id), durations, shard.count)[shard.index - 1]);
  return scenarios.filter((s) => mine.has(s.id));
}
