// Block-I/O throttling helpers against a fake /proc and /sys tree in a temp dir (files only: no cgroup is
// touched; the real kernel path is exercised by the etcd e2e test with mechanism=blkio).
import { afterEach, beforeEach, describe, expect, test } from '@jest/globals';
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { deviceOfPath, ioCgroupOf, setWriteIopsLimit, wholeDisk, writeIopsLimit } from '../../harness/cluster/blkio.js';
import { LocalProcessHost } from '../../harness/cluster/process-host.js';
import { tempDir } from './helpers/tmp.js';

let tmp: ReturnType<typeof tempDir>;
const proc = () => join(tmp.path, 'proc');
const cg = () => join(tmp.path, 'cgroup');
/** this machine's host API, rooted in the fake tree */
const host = () => new LocalProcessHost(proc(), cg(), join(tmp.path, 'sys'));

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
  test('cgroup v1: the blkio line names the directory under /sys/fs/cgroup/blkio', async () => {
    fakePid(7, '12:memory:/docker/n/a\n7:blkio:/docker/n/kubelet.slice/cri-containerd-c.scope\n0::/\n', MOUNTINFO);
    expect(await ioCgroupOf(host(), 7)).toEqual({ version: 1, dir: join(cg(), 'blkio', '/docker/n/kubelet.slice/cri-containerd-c.scope') });
  });

  test('cgroup v2: the unified line; a missing pid has none', async () => {
    fakePid(8, '0::/kubepods/pod1/c2\n', MOUNTINFO);
    expect(await ioCgroupOf(host(), 8)).toEqual({ version: 2, dir: join(cg(), '/kubepods/pod1/c2') });
    expect(await ioCgroupOf(host(), 9)).toBeUndefined();
  });

  test('the device under a path is the longest covering mount; overlay and tmpfs have none', async () => {
    fakePid(7, '', MOUNTINFO);
    expect(await deviceOfPath(host(), 7, '/var/lib/etcd')).toBe('254:0');
    expect(await deviceOfPath(host(), 7, '/var/lib/etcd/member/wal')).toBe('254:0');
    expect(await deviceOfPath(host(), 7, '/var/log')).toBe('254:0');
    expect(await deviceOfPath(host(), 7, '/etc')).toBeUndefined();
    expect(await deviceOfPath(host(), 7, '/tmp/x')).toBeUndefined();
  });

  test("a partition's limit goes on its disk", async () => {
    const sys = join(tmp.path, 'sys');
    mkdirSync(join(sys, 'devices', 'vda', 'vda1'), { recursive: true });
    writeFileSync(join(sys, 'devices', 'vda', 'dev'), '254:0\n');
    writeFileSync(join(sys, 'devices', 'vda', 'vda1', 'partition'), '1\n');
    mkdirSync(join(sys, 'dev', 'block'), { recursive: true });
    symlinkSync(join(sys, 'devices', 'vda', 'vda1'), join(sys, 'dev', 'block', '254:1'));
    symlinkSync(join(sys, 'devices', 'vda'), join(sys, 'dev', 'block', '254:0'));
    expect(await wholeDisk(host(), '254:1')).toBe('254:0');
    expect(await wholeDisk(host(), '254:0')).toBe('254:0');
  });

  test('v1 and v2 limits are read per device and written in each format', async () => {
    const v1 = { version: 1 as const, dir: join(tmp.path, 'v1') };
    mkdirSync(v1.dir);
    expect(await writeIopsLimit(host(), v1, '254:0')).toBe(0);
    writeFileSync(join(v1.dir, 'blkio.throttle.write_iops_device'), '8:0 50\n254:0 10\n');
    expect(await writeIopsLimit(host(), v1, '254:0')).toBe(10);
    await setWriteIopsLimit(host(), v1, '254:0', 0);
    expect(readFileSync(join(v1.dir, 'blkio.throttle.write_iops_device'), 'utf8')).toBe('254:0 0\n');
    const v2 = { version: 2 as const, dir: join(tmp.path, 'v2') };
    mkdirSync(v2.dir);
    writeFileSync(join(v2.dir, 'io.max'), '254:0 rbps=max wbps=max riops=max wiops=25\n');
    expect(await writeIopsLimit(host(), v2, '254:0')).toBe(25);
    writeFileSync(join(v2.dir, 'io.max'), '254:0 rbps=max wbps=max riops=max wiops=max\n');
    expect(await writeIopsLimit(host(), v2, '254:0')).toBe(0);
    await setWriteIopsLimit(host(), v2, '254:0', 5);
    expect(readFileSync(join(v2.dir, 'io.max'), 'utf8')).toBe('254:0 wiops=5\n');
    await setWriteIopsLimit(host(), v2, '254:0', 0);
    expect(readFileSync(join(v2.dir, 'io.max'), 'utf8')).toBe('254:0 wiops=max\n');
  });
});
