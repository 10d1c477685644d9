// Reading a file a user points at: only a regular file (a FIFO would block the read forever, a directory or a
// device is a mistake), and only up to a size cap, so a wrong path is one clear error instead of a hang.
import { accessSync, closeSync, constants, existsSync, fstatSync, mkdirSync, openSync, readSync, realpathSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

/** Scenario files, manifests, kind configs and reports are small; anything past this is not one of them. */
export const MAX_INPUT_BYTES = 4 * 1024 * 1024;

export class InputFileError extends Error {
  constructor(readonly path: string, readonly reason: string) {
    super(`${path}: ${reason}`);
    this.name = 'InputFileError';
  }
}

function kindOf(mode: number): string {
  const t = mode & constants.S_IFMT;
  if (t === constants.S_IFDIR) return 'a directory';
  if (t === constants.S_IFIFO) return 'a FIFO';
  if (t === constants.S_IFSOCK) return 'a socket';
  if (t === constants.S_IFCHR || t === constants.S_IFBLK) return 'a device';
  return 'not a regular file';
}

/** The file's text; InputFileError (with a one-line reason) when it is missing, not a regular file or too big. */
export function readRegularFile(path: string, maxBytes = MAX_INPUT_BYTES): string {
  let fd: number;
  try {
    // O_NONBLOCK: opening a FIFO with no writer would otherwise block before fstat can say what it is
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new InputFileError(path, code === 'ENOENT' ? 'does not exist' : code === 'EACCES' ? 'cannot be read (permission denied)' : `cannot be opened (${code ?? 'error'})`);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new InputFileError(path, `is ${kindOf(st.mode)}, not a regular file`);
    if (st.size > maxBytes) throw new InputFileError(path, `is ${st.size} bytes, more than the ${maxBytes} a faultline input may have`);
    const buf = Buffer.alloc(st.size);
    let off = 0;
    while (off < st.size) {
      const n = readSync(fd, buf, off, st.size - off, off);
      if (n === 0) break;
      off += n;
    }
    return buf.subarray(0, off).toString('utf8');
  } catch (err) {
    if (err instanceof InputFileError) throw err;
    throw new InputFileError(path, `cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  } finally {
    closeSync(fd);
  }
}

/** Makes sure a directory can be made (if need be) and written (a report directory, before any run starts), or
 *  says why not in one line. Nothing is created here: bad input changes nothing; see makeDir. */
export function assertWritableDir(dir: string): void {
  // Node's recursive mkdir loops for ever under /proc, so kernel file systems are refused before anything else,
  // judged by the nearest ancestor that exists (symlinks resolved)
  let existing = resolve(dir);
  while (!existsSync(existing)) existing = dirname(existing);
  const real = realpathSync(existing);
  if (['/proc', '/sys', '/dev'].some((k) => real === k || real.startsWith(`${k}/`))) {
    throw new InputFileError(dir, 'is in a kernel file system, not a place for reports');
  }
  if (!statSync(existing).isDirectory()) {
    throw new InputFileError(dir, existing === resolve(dir) ? 'is not a directory' : `cannot be created (${existing} is not a directory)`);
  }
  try {
    accessSync(existing, constants.W_OK | constants.X_OK);
  } catch (err) {
    throw new InputFileError(dir, `is not writable (${existing}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
}

/** The directory, made with its parents; call assertWritableDir first (the mkdir below never sees /proc). */
export function makeDir(dir: string): void {
  mkdirSync(dir, { recursive: true });
}
