// The node-folder pruning script, run by a real sh on a temp folder standing in for /var/lib/faultline (no node).
import { describe, expect, test } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pruneEmptyDirsScript } from '../../harness/cluster/node-files.js';
import { tempDir } from './helpers/tmp.js';

describe('pruneEmptyDirsScript', () => {
  test('removes the empty folders up to the root, and stops at one that still holds something', () => {
    const tmp = tempDir();
    try {
      const root = join(tmp.path, 'faultline');
      mkdirSync(join(root, 'cert-backup', 'run-1'), { recursive: true });
      execFileSync('sh', ['-c', pruneEmptyDirsScript(join(root, 'cert-backup', 'run-1'), root)]);
      expect(existsSync(root)).toBe(false);

      mkdirSync(join(root, 'cert-backup', 'run-2'), { recursive: true });
      mkdirSync(join(root, 'cert-backup', 'run-3'));
      writeFileSync(join(root, 'cert-backup', 'run-3', 'apiserver.key.orig'), 'x');
      execFileSync('sh', ['-c', `${pruneEmptyDirsScript(join(root, 'cert-backup', 'run-2'), root)}; true`]);
      expect(existsSync(join(root, 'cert-backup', 'run-2'))).toBe(false);
      expect(existsSync(join(root, 'cert-backup', 'run-3', 'apiserver.key.orig'))).toBe(true);
    } finally {
      tmp.cleanup();
    }
  });

  test('refuses a folder outside the root', () => {
    expect(() => pruneEmptyDirsScript('/etc/kubernetes', '/var/lib/faultline')).toThrow(/not under/);
    expect(() => pruneEmptyDirsScript('/var/lib/faultlinex', '/var/lib/faultline')).toThrow(/not under/);
  });
});
