// Block-I/O throttling helpers against a fake /proc and /sys tree in a temp dir (files only: no cgroup is
// touched; the real kernel path is exercised by the etcd e2e test with mechanism=blkio).
import { afterEach, beforeEach, describe, expect, test } from '@jest/globals';
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { deviceOfPath, ioCgroupOf, setWriteIopsLimit, wholeDisk, writeIopsLimit } from '../../harness/cluster/blkio.js';
import { tempDir } from './helpers/tmp.js';

let tmp: ReturnType<typeof tempDir>;
const proc = () => join(tmp.path, 'proc');
const cg = () => join(tmp.path, 'cgroup');

function fakePid(pid: number, cgroup: string, mountinfo: string): void {
  mkdirSync(join(proc(), String(pid)), { recursive: true });
  writeFileSync(join(proc(), String(pid), 'cgroup'), cgroup);
  writeFileSync(join(proc(), String(pid), 'mountinfo'), mountinfo);
}

const MOUNTINFO = [
  '323 300 0:63 / / rw,relatime - overlay overlay rw,lowerdir=/l',
  '372 323 254:0 /var/lib/docker/volumes/x/_data/lib/etcd /var/lib/etcd rw,relatime - ext4 /dev/vda rw',
  '380 323 254:0 /var/lib/docker/volumes/x/_data /var rw,relatime - ext4 /dev/vda rw',
  '390 323 0:70 / /tmp rw - tmpfs tmpfs rw',
].join('\n');

beforeEach(() => {
  tmp = tempDir();
});
afterEach(() => tmp.cleanup());

describe('blkio helpers (fake /proc and /sys)', () => {
  test('cgroup v1: the blkio line names the directory under /sys/fs/cgroup/blkio', () => {
    fakePid(7, '12:memory:/docker/n/a\n7:blkio:/docker/n/kubelet.slice/cri-containerd-c.scope\n0::/\n', MOUNTINFO);
    expect(ioCgroupOf(7, proc(), cg())).toEqual({ version: 1, dir: join(cg(), 'blkio', '/docker/n/kubelet.slice/cri-containerd-c.scope') });
  });

  test('cgroup v2: the unified line; a missing pid has none', () => {
    fakePid(8, '0::/kubepods/pod1/c2\n', MOUNTINFO);
    expect(ioCgroupOf(8, proc(), cg())).toEqual({ version: 2, dir: join(cg(), '/kubepods/pod1/c2') });
    expect(ioCgroupOf(9, proc(), cg())).toBeUndefined();
  });

  test('the device under a path is the longest covering mount; overlay and tmpfs have none', () => {
    fakePid(7, '', MOUNTINFO);
    expect(deviceOfPath(7, '/var/lib/etcd', proc())).toBe('254:0');
    expect(deviceOfPath(7, '/var/lib/etcd/member/wal', proc())).toBe('254:0');
    expect(deviceOfPath(7, '/var/log', proc())).toBe('254:0');
    expect(deviceOfPath(7, '/etc', proc())).toBeUndefined();
    expect(deviceOfPath(7, '/tmp/x', proc())).toBeUndefined();
  });

  test("a partition's limit goes on its disk", () => {
    const sys = join(tmp.path, 'sys');
    mkdirSync(join(sys, 'devices', 'vda', 'vda1'), { recursive: true });
    writeFileSync(join(sys, 'devices', 'vda', 'dev'), '254:0\n');
    writeFileSync(join(sys, 'devices', 'vda', 'vda1', 'partition'), '1\n');
    mkdirSync(join(sys, 'dev', 'block'), { recursive: true });
    symlinkSync(join(sys, 'devices', 'vda', 'vda1'), join(sys, 'dev', 'block', '254:1'));
    symlinkSync(join(sys, 'devices', 'vda'), join(sys, 'dev', 'block', '254:0'));
    expect(wholeDisk('254:1', sys)).toBe('254:0');
    expect(wholeDisk('254:0', sys)).toBe('254:0');
  });

  test('v1 and v2 limits are read per device and written in each format', () => {
    const v1 = { version: 1 as const, dir: join(tmp.path, 'v1') };
    mkdirSync(v1.dir);
    expect(writeIopsLimit(v1, '254:0')).toBe(0);
    writeFileSync(join(v1.dir, 'blkio.throttle.write_iops_device'), '8:0 50\n254:0 10\n');
    expect(writeIopsLimit(v1, '254:0')).toBe(10);
    setWriteIopsLimit(v1, '254:0', 0);
    expect(readFileSync(join(v1.dir, 'blkio.throttle.write_iops_device'), 'utf8')).toBe('254:0 0\n');
    const v2 = { version: 2 as const, dir: join(tmp.path, 'v2') };
    mkdirSync(v2.dir);
    writeFileSync(join(v2.dir, 'io.max'), '254:0 rbps=max wbps=max riops=max wiops=25\n');
    expect(writeIopsLimit(v2, '254:0')).toBe(25);
    writeFileSync(join(v2.dir, 'io.max'), '254:0 rbps=max wbps=max riops=max wiops=max\n');
    expect(writeIopsLimit(v2, '254:0')).toBe(0);
    setWriteIopsLimit(v2, '254:0', 5);
    expect(readFileSync(join(v2.dir, 'io.max'), 'utf8')).toBe('254:0 wiops=5\n');
    setWriteIopsLimit(v2, '254:0', 0);
    expect(readFileSync(join(v2.dir, 'io.max'), 'utf8')).toBe('254:0 wiops=max\n');
  });
});
