// clusters.json: the clusters this tool created. Safety checks allow injection only into these
// (or into contexts allowed by name).
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../core/atomic.js';
import { stateDir } from '../core/paths.js';
import type { ClusterRef } from './types.js';

export interface ClusterRecord extends ClusterRef {
  createdAt: string;
}

function file(): string {
  return join(stateDir(), 'clusters.json');
}

export function readClusterRecords(): ClusterRecord[] {
  const f = file();
  if (!existsSync(f)) return [];
  try {
    const parsed = JSON.parse(readFileSync(f, 'utf8'));
    return Array.isArray(parsed) ? (parsed as ClusterRecord[]) : [];
  } catch {
    return [];
  }
}

export function recordCluster(ref: ClusterRef): void {
  const rest = readClusterRecords().filter((r) => !(r.name === ref.name && r.provider === ref.provider));
  rest.push({ ...ref, createdByFaultline: true, createdAt: new Date().toISOString() });
  writeFileAtomic(file(), JSON.stringify(rest, null, 2) + '\n');
}

export function forgetCluster(provider: ClusterRef['provider'], name: string): void {
  rmSync(baselineFile(provider, name), { force: true });
  const all = readClusterRecords();
  const rest = all.filter((r) => !(r.name === name && r.provider === provider));
  if (rest.length !== all.length) writeFileAtomic(file(), JSON.stringify(rest, null, 2) + '\n');
}

export function findClusterRecord(name: string, provider?: ClusterRef['provider']): ClusterRecord | undefined {
  return readClusterRecords().find((r) => r.name === name && (!provider || r.provider === provider));
}

// A cluster's baseline (engine/baseline.ts: hashes and fingerprints, no secret), taken when `cluster up` made it,
// so a later `cluster check` can prove it as it was. Kept and forgotten with the cluster's record.
function baselineFile(provider: ClusterRef['provider'], name: string): string {
  return join(stateDir(), 'baselines', `${provider}-${name}.json`);
}

export function recordBaseline(ref: Pick<ClusterRef, 'provider' | 'name'>, baseline: object): void {
  writeFileAtomic(baselineFile(ref.provider, ref.name), JSON.stringify(baseline, null, 2) + '\n');
}

/** The recorded baseline as parsed JSON, or undefined when none was taken. */
export function readBaseline(ref: Pick<ClusterRef, 'provider' | 'name'>): unknown {
  const f = baselineFile(ref.provider, ref.name);
  return existsSync(f) ? JSON.parse(readFileSync(f, 'utf8')) : undefined;
}
