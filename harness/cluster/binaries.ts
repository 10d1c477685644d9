// Finds the external tools providers shell out to, in a fixed and logged order.
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { cacheDir } from '../core/paths.js';

export interface Found {
  path: string;
  /** how it was found, for logs: "FAULTLINE_KIND", "faultline cache", "PATH" */
  via: string;
}

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

export function onPath(name: string, pathEnv = process.env.PATH ?? ''): string | undefined {
  for (const dir of pathEnv.split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, name);
    if (executable(candidate)) return candidate;
  }
  return undefined;
}

/** Lookup order: env override (e.g. FAULTLINE_KIND), then $FAULTLINE_CACHE/bin/current/<name>
 *  (where the offline forge installs what it builds), then PATH. */
export function findBinary(name: string, envVar?: string, env: NodeJS.ProcessEnv = process.env): Found | undefined {
  const override = envVar ? env[envVar] : undefined;
  if (override) return executable(override) ? { path: override, via: envVar! } : undefined;
  const cached = join(cacheDir(), 'bin', 'current', name);
  if (executable(cached)) return { path: cached, via: 'faultline cache' };
  const p = onPath(name, env.PATH ?? '');
  return p ? { path: p, via: 'PATH' } : undefined;
}

export function describeMissing(name: string, envVar?: string): string {
  const where = [envVar ? `$${envVar}` : undefined, `${join(cacheDir(), 'bin', 'current', name)}`, 'PATH']
    .filter(Boolean)
    .join(', ');
  return `${name} not found (looked in ${where})`;
}
