// The machine where a node's processes are host processes, as the slow-disk mechanisms need it: its /proc (a
// process's tracer, command line, cgroup and mounts), its cgroup files, and a place to start strace. For kind and
// k3d that is this machine (nodes are containers here); through the API it is the node itself, seen from
// faultline's agent pod (host PID namespace, the host's root at /host, strace in the agent image).
import { existsSync, readdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { pidAlive } from '../core/processes.js';
import type { ExecResult } from './types.js';
import { shQuote } from './node-access.js';

export interface ProcessHost {
  /** for messages: "this machine", "node X (agent)" */
  readonly where: string;
  readonly procRoot: string;
  readonly cgroupRoot: string;
  readonly sysRoot: string;
  /** strace on that host, and a folder for its output */
  readonly strace: string;
  /** what to do when strace is not there */
  readonly straceHint: string;
  readonly tmp: string;
  read(path: string): Promise<string | undefined>;
  write(path: string, text: string): Promise<void>;
  exists(path: string): Promise<boolean>;
  realpath(path: string): Promise<string | undefined>;
  remove(path: string): Promise<void>;
  /** every process's command line, by pid */
  cmdlines(): Promise<Map<number, string[]>>;
  /** starts argv detached from faultline (it outlives the run that started it); its pid */
  spawn(argv: string[]): Promise<number>;
  /** false when there was no such process */
  signal(pid: number, sig: 'SIGTERM' | 'SIGKILL'): Promise<boolean>;
  alive(pid: number): Promise<boolean>;
}

/** This machine. Roots are parameters so unit tests can use a fake /proc and /sys tree. */
export class LocalProcessHost implements ProcessHost {
  readonly where = 'this machine';
  readonly straceHint = 'install strace (apt-get install strace) or set FAULTLINE_STRACE';
  readonly tmp = tmpdir();
  constructor(
    readonly procRoot = '/proc',
    readonly cgroupRoot = '/sys/fs/cgroup',
    readonly sysRoot = '/sys',
    readonly strace = process.env.FAULTLINE_STRACE ?? '/usr/bin/strace',
  ) {}

  async read(path: string) {
    try {
      return readFileSync(path, 'utf8');
    } catch {
      return undefined;
    }
  }
  async write(path: string, text: string) {
    writeFileSync(path, text);
  }
  async exists(path: string) {
    return existsSync(path);
  }
  async realpath(path: string) {
    try {
      return realpathSync(path);
    } catch {
      return undefined;
    }
  }
  async remove(path: string) {
    rmSync(path, { force: true });
  }
  async cmdlines() {
    const out = new Map<number, string[]>();
    for (const name of readdirSync(this.procRoot)) {
      if (!/^\d+$/.test(name)) continue;
      const raw = await this.read(join(this.procRoot, name, 'cmdline'));
      if (raw !== undefined) out.set(Number(name), splitCmdline(raw));
    }
    return out;
  }
  async spawn(argv: string[]) {
    const child = execa(argv[0]!, argv.slice(1), { detached: true, stdio: 'ignore', reject: false, cleanup: false });
    child.unref();
    child.catch(() => {});
    if (!child.pid) throw new Error(`${argv[0]} did not start`);
    return child.pid;
  }
  async signal(pid: number, sig: 'SIGTERM' | 'SIGKILL') {
    try {
      process.kill(pid, sig);
      return true;
    } catch {
      return false;
    }
  }
  async alive(pid: number) {
    if (!pidAlive(pid)) return false;
    return !/\) Z /.test((await this.read(join(this.procRoot, String(pid), 'stat'))) ?? '');
  }
}

export function splitCmdline(raw: string, sep = '\0'): string[] {
  return raw.split(sep).filter((s, i, a) => s !== '' || i < a.length - 1);
}

/** A node seen from its agent pod: each call is one command in the agent's container (not the node's
 *  namespaces: strace is the agent's own; /proc is the node's, through the host PID namespace). */
export class AgentProcessHost implements ProcessHost {
  readonly procRoot = '/proc';
  readonly cgroupRoot = '/host/sys/fs/cgroup';
  readonly sysRoot = '/host/sys';
  readonly strace = '/usr/bin/strace';
  readonly straceHint = 'the agent image needs strace (README: node access through the API)';
  readonly tmp = '/tmp';
  constructor(
    readonly where: string,
    private readonly sh: (script: string, input?: string) => Promise<ExecResult>,
  ) {}

  private async ok(script: string, input?: string): Promise<string> {
    const r = await this.sh(script, input);
    if (r.exitCode !== 0) throw new Error(`on ${this.where}: ${script.split(' ')[0]} exited ${r.exitCode}: ${r.stderr.trim().split('\n')[0] ?? ''}`);
    return r.stdout;
  }
  async read(path: string) {
    const r = await this.sh(`cat -- ${shQuote(path)}`);
    return r.exitCode === 0 ? r.stdout : undefined;
  }
  async write(path: string, text: string) {
    await this.ok(`cat > ${shQuote(path)}`, text);
  }
  async exists(path: string) {
    return (await this.sh(`test -e ${shQuote(path)}`)).exitCode === 0;
  }
  async realpath(path: string) {
    const r = await this.sh(`readlink -e -- ${shQuote(path)}`);
    return r.exitCode === 0 ? r.stdout.trim() : undefined;
  }
  async remove(path: string) {
    await this.ok(`rm -f -- ${shQuote(path)}`);
  }
  async cmdlines() {
    // one line per process: pid, a tab, the command line with its NULs as \001
    const text = await this.ok(`for d in /proc/[0-9]*; do printf '%s\\t' "\${d#/proc/}"; tr '\\000\\n' '\\001 ' < "$d/cmdline" 2>/dev/null; echo; done`);
    const out = new Map<number, string[]>();
    for (const line of text.split('\n')) {
      const tab = line.indexOf('\t');
      if (tab <= 0) continue;
      const rest = line.slice(tab + 1);
      if (rest) out.set(Number(line.slice(0, tab)), splitCmdline(rest, '\u0001'));
    }
    return out;
  }
  async spawn(argv: string[]) {
    const pid = Number((await this.ok(`${argv.map(shQuote).join(' ')} </dev/null >/dev/null 2>&1 & echo $!`)).trim());
    if (!Number.isInteger(pid) || pid <= 0) throw new Error(`on ${this.where}: ${argv[0]} did not start`);
    return pid;
  }
  async signal(pid: number, sig: 'SIGTERM' | 'SIGKILL') {
    return (await this.sh(`kill -${sig.slice(3)} ${pid}`)).exitCode === 0;
  }
  async alive(pid: number) {
    const stat = await this.read(`/proc/${pid}/stat`);
    return stat !== undefined && !/\) Z /.test(stat);
  }
}

// ---- what the slow-disk mechanisms read from a host's /proc ----

export async function procStatusField(host: ProcessHost, pid: number, field: string): Promise<string | undefined> {
  const status = await host.read(join(host.procRoot, String(pid), 'status'));
  return status === undefined ? undefined : new RegExp(`^${field}:\\s*(.*)$`, 'm').exec(status)?.[1]?.trim();
}

/** pid of the process ptrace-attached to pid (0 = none); undefined if pid is gone */
export async function tracerPid(host: ProcessHost, pid: number): Promise<number | undefined> {
  const v = await procStatusField(host, pid, 'TracerPid');
  return v === undefined ? undefined : Number(v);
}

export async function procCmdline(host: ProcessHost, pid: number): Promise<string[] | undefined> {
  const raw = await host.read(join(host.procRoot, String(pid), 'cmdline'));
  return raw === undefined ? undefined : splitCmdline(raw);
}
