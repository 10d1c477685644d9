// What the benchmark scripts share: the built CLI, run with a state directory of their own, and a line naming
// the machine, so every printed figure says where it was measured.
import { mkdtempSync, readFileSync } from 'node:fs';
import { cpus, hostname, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { $ } from 'zx';

$.verbose = false;
export const CLI = join(process.cwd(), 'dist', 'harness', 'cli', 'main.js');
export const CACHE = process.env.FAULTLINE_CACHE ?? join(process.env.HOME ?? '/root', '.cache', 'faultline');

/** A state directory for this benchmark alone (its clusters' records, journals and kubeconfigs). */
export function benchEnv(name: string): NodeJS.ProcessEnv & { FAULTLINE_STATE_DIR: string } {
  return { ...process.env, FAULTLINE_STATE_DIR: mkdtempSync(join(tmpdir(), `faultline-bench-${name}-`)) };
}

/** The faultline CLI with that environment; never throws on a non-zero exit (the caller reads exitCode). */
export function cliWith(env: NodeJS.ProcessEnv) {
  return (args: string[]) => $({ env, nothrow: true })`node ${CLI} ${args}`;
}

/** "machine: host, 2 cores, 23 GiB, cgroup v1, 2026-12-01T12:00:00Z" */
export function machineLine(): string {
  let cgroup = 'cgroup v1';
  try {
    readFileSync('/sys/fs/cgroup/cgroup.controllers');
    cgroup = 'cgroup v2';
  } catch {
    // no unified hierarchy at the root: v1
  }
  return `machine: ${hostname()}, ${cpus().length} cores, ${Math.round(totalmem() / 2 ** 30)} GiB, ${cgroup}, ${new Date().toISOString().replace(/\.\d+Z$/, 'Z')}`;
}
