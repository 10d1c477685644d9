// Block-I/O throttling of one host process's cgroup: the kernel's own way to make a disk slow for that process
// alone (cgroup v1 blkio.throttle.write_iops_device, v2 io.max wiops). kind nodes are containers, so a pod's
// process has a cgroup on the host. Paths are parameters so tests can use a fake /proc and /sys tree.
import { existsSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

export interface IoCgroup {
  version: 1 | 2;
  dir: string;
}

/** The cgroup whose block-I/O limits apply to pid. */
export function ioCgroupOf(pid: number, procRoot = '/proc', cgroupRoot = '/sys/fs/cgroup'): IoCgroup | undefined {
  let text: string;
  try {
    text = readFileSync(join(procRoot, String(pid), 'cgroup'), 'utf8');
  } catch {
    return undefined;
  }
  const lines = text.split('\n');
  const v1 = lines.map((l) => l.split(':')).find((f) => f.length >= 3 && f[1]!.split(',').includes('blkio'));
  if (v1) return { version: 1, dir: join(cgroupRoot, 'blkio', f3(v1)) };
  const v2 = lines.map((l) => l.split(':')).find((f) => f.length >= 3 && f[0] === '0' && f[1] === '');
  return v2 ? { version: 2, dir: join(cgroupRoot, f3(v2)) } : undefined;
}

const f3 = (fields: string[]) => fields.slice(2).join(':');

/** "major:minor" of the filesystem holding path, as pid sees it (its mountinfo); undefined for a filesystem
 *  with no block device under it (overlay, tmpfs: major 0). */
export function deviceOfPath(pid: number, path: string, procRoot = '/proc'): string | undefined {
  let best: { mount: string; dev: string } | undefined;
  for (const line of readFileSync(join(procRoot, String(pid), 'mountinfo'), 'utf8').split('\n')) {
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
export function wholeDisk(dev: string, sysRoot = '/sys'): string {
  const link = join(sysRoot, 'dev', 'block', dev);
  if (!existsSync(join(link, 'partition'))) return dev;
  return readFileSync(join(dirname(realpathSync(link)), 'dev'), 'utf8').trim();
}

/** The write IOPS limit for dev in this cgroup; 0 when there is none. */
export function writeIopsLimit(cg: IoCgroup, dev: string): number {
  const file = join(cg.dir, cg.version === 1 ? 'blkio.throttle.write_iops_device' : 'io.max');
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return 0;
  }
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
export function setWriteIopsLimit(cg: IoCgroup, dev: string, iops: number): void {
  if (cg.version === 1) writeFileSync(join(cg.dir, 'blkio.throttle.write_iops_device'), `${dev} ${iops}\n`);
  else writeFileSync(join(cg.dir, 'io.max'), `${dev} wiops=${iops > 0 ? iops : 'max'}\n`);
}
