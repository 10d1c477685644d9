// Node access for providers whose nodes are Docker containers (kind, k3d).
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Runner } from './process.js';
import type { ExecResult } from './types.js';

export async function dockerExec(
  run: Runner,
  docker: string,
  container: string,
  argv: string[],
  opts: { input?: string; timeoutMs?: number } = {},
): Promise<ExecResult> {
  const flags = opts.input !== undefined ? ['-i'] : [];
  return run([docker, 'exec', ...flags, container, ...argv], {
    input: opts.input,
    timeoutMs: opts.timeoutMs ?? 60_000,
    reject: false,
  });
}

export async function imageExists(run: Runner, docker: string, ref: string): Promise<boolean> {
  const res = await run([docker, 'image', 'inspect', ref], { reject: false, timeoutMs: 30_000 }).catch(() => undefined);
  return res?.exitCode === 0;
}

/** Splits images into those the local Docker has and those it does not. */
export async function partitionLocalImages(run: Runner, docker: string, images: string[]): Promise<{ present: string[]; absent: string[] }> {
  const present: string[] = [];
  const absent: string[] = [];
  for (const img of [...new Set(images)]) (await imageExists(run, docker, img) ? present : absent).push(img);
  return { present, absent };
}

export interface ProcEntry {
  pid: number;
  ppid: number;
  comm: string;
}

/** Reads pid, parent pid and command name of every process visible in procRoot. */
export function readProcTable(procRoot = '/proc'): ProcEntry[] {
  const out: ProcEntry[] = [];
  for (const name of readdirSync(procRoot)) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const status = readFileSync(join(procRoot, name, 'status'), 'utf8');
      const comm = /^Name:\s*(.*)$/m.exec(status)?.[1]?.trim() ?? '';
      const ppid = Number(/^PPid:\s*(\d+)$/m.exec(status)?.[1] ?? 0);
      out.push({ pid: Number(name), ppid, comm });
    } catch {
      // the process exited while we looked
    }
  }
  return out;
}

/** Finds a process named `name` whose ancestry reaches rootPid (the node container's init). Walking the
 *  parent chain works through nested PID namespaces (a pod inside a kind node), where NSpid alone does not.
 *  The kernel truncates comm to 15 characters, so the name is compared the same way. */
export function findDescendant(table: ProcEntry[], rootPid: number, name: string): number | undefined {
  const byPid = new Map(table.map((p) => [p.pid, p]));
  const want = name.slice(0, 15);
  const matches = table.filter((p) => p.comm === want && p.pid !== rootPid);
  const found = matches.filter((p) => {
    let cur: ProcEntry | undefined = p;
    for (let hops = 0; cur && hops < 64; hops++) {
      if (cur.ppid === rootPid) return true;
      cur = byPid.get(cur.ppid);
    }
    return false;
  });
  // the oldest (lowest pid) match is the main process rather than a short-lived child
  return found.sort((a, b) => a.pid - b.pid)[0]?.pid;
}

export async function containerPid(run: Runner, docker: string, container: string): Promise<number> {
  const res = await run([docker, 'inspect', '-f', '{{.State.Pid}}', container], { timeoutMs: 30_000 });
  const pid = Number(res.stdout.trim());
  if (!Number.isInteger(pid) || pid <= 0) throw new Error(`container ${container} is not running (pid ${res.stdout.trim()})`);
  return pid;
}

export async function hostPidInContainer(
  run: Runner,
  docker: string,
  container: string,
  processName: string,
  procRoot = '/proc',
): Promise<number | undefined> {
  const root = await containerPid(run, docker, container);
  return findDescendant(readProcTable(procRoot), root, processName);
}
