import { afterEach, beforeEach } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A temp dir per test, so no test touches the real state dir (~/.local/state/faultline). */
export function tempDir(prefix = 'faultline-test-'): { path: string; cleanup(): void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, cleanup: () => rmSync(path, { recursive: true, force: true }) };
}

/** Gives every test in the file its own state dir ($FAULTLINE_STATE_DIR), removed after the test. */
export function useTempStateDir(): { readonly path: string } {
  let dir: ReturnType<typeof tempDir> | undefined;
  beforeEach(() => {
    dir = tempDir();
    process.env.FAULTLINE_STATE_DIR = dir.path;
  });
  afterEach(() => {
    dir?.cleanup();
    delete process.env.FAULTLINE_STATE_DIR;
  });
  return {
    get path() {
      if (!dir) throw new Error('useTempStateDir: path read outside a test');
      return dir.path;
    },
  };
}
