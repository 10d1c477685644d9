// clusters.json: the clusters this tool created. Safety checks allow injection only into these
// (or into contexts allowed by name).
import { existsSync, readFileSync } from 'node:fs';
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
  const all = readClusterRecords();
  const rest = all.filter((r) => !(r.name === name && r.provider === provider));
  if (rest.length !== all.length) writeFileAtomic(file(), JSON.stringify(rest, null, 2) + '\n');
}

export function findClusterRecord(name: string, provider?: ClusterRef['provider']): ClusterRecord | undefined {
  return readClusterRecords().find((r) => r.name === name && (!provider || r.provider === provider));
}
