// Block-I/O throttling of one host process's cgroup: the kernel's own way to make a disk slow for that process
// alone (cgroup v1 blkio.throttle.write_iops_device, v2 io.max wiops), read and written on the host the process
// runs on (process-host.ts): this machine for kind's node containers, the node itself through its agent.
import { dirname, join } from 'node:path';
import type { ProcessHost } from './process-host.js';

export interface IoCgroup {
  version: 1 | 2;
  dir: string;
}

/** The cgroup whose block-I/O limits apply to pid. */
export async function ioCgroupOf(host: ProcessHost, pid: number): Promise<IoCgroup | undefined> {
  const text = await host.read(join(host.procRoot, String(pid), 'cgroup'));
  if (text === undefined) return undefined;
  const lines = text.split('\n');
  const v1 = lines.map((l) => l.split(':')).find((f) => f.length >= 3 && f[1]!.split(',').includes('blkio'));
  if (v1) return { version: 1, dir: join(host.cgroupRoot, 'blkio', f3(v1)) };
  const v2 = lines.map((l) => l.split(':')).find((f) => f.length >= 3 && f[0] === '0' && f[1] === '');
  return v2 ? { version: 2, dir: join(host.cgroupRoot, f3(v2)) } : undefined;
}

const f3 = (fields: string[]) => fields.slice(2).join(':');

/** "major:minor" of the filesystem holding path, as pid sees it (its mountinfo); undefined for a filesystem
 *  with no block device under it (overlay, tmpfs: major 0). */
export async function deviceOfPath(host: ProcessHost, pid: number, path: string): Promise<string | undefined> {
  let best: { mount: string; dev: string } | undefined;
  for (const line of ((await host.read(join(host.procRoot, String(pid), 'mountinfo'))) ?? '').split('\n')) {
    const f = line.split(' ');
    const mount = f[4];
    const dev = f[2];
    if (!mount || !dev) continue;
    const covers = mount === '/' || path === mount || path.startsWith(`${mount}/`);
    if (covers && (!best || mount.length >= best.mount.length)) best = { mount, dev };
  }
  if (!best || best.dev.startsWith('0:')) return undefined;
  return best.dev;
}

/** Throttles apply to whole disks: a partition's "major:minor" becomes its disk's. */
export async function wholeDisk(host: ProcessHost, dev: string): Promise<string> {
  const link = join(host.sysRoot, 'dev', 'block', dev);
  if (!(await host.exists(join(link, 'partition')))) return dev;
  const real = await host.realpath(link);
  const parent = real && (await host.read(join(dirname(real), 'dev')));
  if (!parent) throw new Error(`no whole disk found for partition ${dev} under ${host.sysRoot} on ${host.where}`);
  return parent.trim();
}

/** The write IOPS limit for dev in this cgroup; 0 when there is none. */
export async function writeIopsLimit(host: ProcessHost, cg: IoCgroup, dev: string): Promise<number> {
  const text = (await host.read(join(cg.dir, cg.version === 1 ? 'blkio.throttle.write_iops_device' : 'io.max'))) ?? '';
  for (const line of text.split('\n')) {
    const [d, ...rest] = line.trim().split(/\s+/);
    if (d !== dev) continue;
    if (cg.version === 1) return Number(rest[0] ?? 0);
    const wiops = rest.find((r) => r.startsWith('wiops='))?.slice(6);
    return wiops && wiops !== 'max' ? Number(wiops) : 0;
  }
  return 0;
}

/** Sets (iops > 0) or removes (0) the write IOPS limit for dev in this cgroup. */
export async function setWriteIopsLimit(host: ProcessHost, cg: IoCgroup, dev: string, iops: number): Promise<void> {
  if (cg.version === 1) await host.write(join(cg.dir, 'blkio.throttle.write_iops_device'), `${dev} ${iops}\n`);
  else await host.write(join(cg.dir, 'io.max'), `${dev} wiops=${iops > 0 ? iops : 'max'}\n`);
}
