// The one place that starts external processes (kind, k3d, docker). Everything else calls run().
import { execa } from 'execa';

export interface RunOptions {
  input?: string;
  timeoutMs?: number;
  signal?: AbortSignal;
  env?: Record<string, string>;
  /** when false, a non-zero exit is returned instead of thrown */
  reject?: boolean;
  /** receives stderr lines as they arrive (kind prints its progress there) */
  onStderrLine?(line: string): void;
}

export interface RunResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

export type Runner = (argv: string[], opts?: RunOptions) => Promise<RunResult>;

const TAIL_LINES = 8;

/** A failed process: keeps argv and the end of stderr so the message says what ran and why it failed. */
export class ProcessError extends Error {
  constructor(
    readonly argv: string[],
    readonly exitCode: number | undefined,
    readonly stderrTail: string,
    override readonly cause?: unknown,
    readonly timedOut = false,
  ) {
    const how = timedOut ? 'timed out' : exitCode === undefined ? 'could not start' : `exited ${exitCode}`;
    super(`${argv.join(' ')} ${how}${stderrTail ? `: ${stderrTail}` : ''}`);
    this.name = 'ProcessError';
  }
}

export function tail(text: string, lines = TAIL_LINES): string {
  return text.trim().split('\n').slice(-lines).join('\n');
}

export const run: Runner = async (argv, opts = {}) => {
  const [file, ...args] = argv;
  if (!file) throw new Error('run: empty argv');
  const child = execa(file, args, {
    input: opts.input,
    timeout: opts.timeoutMs,
    cancelSignal: opts.signal,
    env: opts.env,
    reject: false,
    stripFinalNewline: true,
  });
  if (opts.onStderrLine && child.stderr) {
    let buf = '';
    child.stderr.on('data', (chunk: Buffer) => {
      buf += chunk.toString();
      const parts = buf.split('\n');
      buf = parts.pop() ?? '';
      for (const line of parts) if (line.trim()) opts.onStderrLine?.(line.trim());
    });
  }
  const res = await child;
  const stdout = String(res.stdout ?? '');
  const stderr = String(res.stderr ?? '');
  if (res.failed && (res.exitCode === undefined || res.timedOut || res.isCanceled)) {
    // could not start, timed out or aborted: never a normal result
    const why = res.isCanceled ? 'aborted' : res.timedOut ? '' : (res.cause instanceof Error ? res.cause.message : '');
    throw new ProcessError(argv, res.exitCode, tail(stderr) || why, res.cause, res.timedOut);
  }
  const exitCode = res.exitCode ?? 0;
  if (exitCode !== 0 && opts.reject !== false) throw new ProcessError(argv, exitCode, tail(stderr));
  return { stdout, stderr, exitCode };
};
