// Where faultline keeps things. Everything is overridable by environment so tests and CI can use temp dirs.
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root: the nearest ancestor of this module holding faultline's package.json.
 *  Walking up works both from harness/ (tests) and dist/harness/ (built CLI). */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg)) {
      try {
        if (JSON.parse(readFileSync(pkg, 'utf8')).name === 'faultline') return dir;
      } catch {
        // not ours; keep walking
      }
    }
    const parent = dirname(dir);
    if (parent === dir) throw new Error('cannot find the faultline repository root (package.json named "faultline")');
    dir = parent;
  }
}

export function scenariosDir(): string {
  return process.env.FAULTLINE_SCENARIOS_DIR ? resolve(process.env.FAULTLINE_SCENARIOS_DIR) : join(repoRoot(), 'scenarios');
}

export function stateDir(): string {
  return process.env.FAULTLINE_STATE_DIR
    ? resolve(process.env.FAULTLINE_STATE_DIR)
    : join(homedir(), '.local', 'state', 'faultline');
}

export function cacheDir(): string {
  return process.env.FAULTLINE_CACHE ? resolve(process.env.FAULTLINE_CACHE) : join(homedir(), '.cache', 'faultline');
}

export function toolVersion(): string {
  try {
    return JSON.parse(readFileSync(join(repoRoot(), 'package.json'), 'utf8')).version as string;
  } catch {
    return '0.0.0';
  }
}

/** A path as a user would type it from here: relative when under the working directory, else absolute. */
export function displayPath(p: string): string {
  const rel = relative(process.cwd(), p);
  return rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel : p;
}
