// Runs a command inside a pod container through the API's exec (WebSocket) endpoint, not kubectl.
import { Writable } from 'node:stream';
import { Readable } from 'node:stream';
import { Exec, type KubeConfig, type V1Status } from '@kubernetes/client-node';
import type { ExecResult } from './types.js';

class Collect extends Writable {
  chunks: Buffer[] = [];
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: () => void): void {
    this.chunks.push(Buffer.from(chunk));
    cb();
  }
  text(): string {
    return Buffer.concat(this.chunks).toString('utf8');
  }
}

/** The API server did not open the exec stream in time: the command never started, so trying again is safe
 *  (an API server waiting on a stopped etcd holds the upgrade open until its own request timeout). */
export class ExecNotStartedError extends Error {
  override name = 'ExecNotStartedError';
}

/** The stream opened but the command ran past its deadline: it may have acted, so it is not run again. */
export class ExecTimedOutError extends Error {
  override name = 'ExecTimedOutError';
}

/** Exit code from the V1Status the API sends at the end of an exec: Success = 0, NonZeroExitCode carries it. */
export function exitCodeFromStatus(status: V1Status | undefined): number {
  if (!status) return -1;
  if (status.status === 'Success') return 0;
  const cause = status.details?.causes?.find((c) => c.reason === 'ExitCode');
  const n = Number(cause?.message);
  return Number.isInteger(n) ? n : 1;
}

export async function execInPod(
  kc: KubeConfig,
  target: { namespace: string; pod: string; container: string },
  argv: string[],
  opts: { input?: string; timeoutMs?: number } = {},
): Promise<ExecResult> {
  const out = new Collect();
  const err = new Collect();
  const stdin = opts.input !== undefined ? Readable.from([opts.input]) : null;
  const timeoutMs = opts.timeoutMs ?? 60_000;
  return new Promise<ExecResult>((resolve, reject) => {
    let settled = false;
    let connected = false;
    const finish = (fn: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      fn();
    };
    const timer = setTimeout(
      () =>
        finish(() =>
          reject(
            connected
              ? new ExecTimedOutError(`exec in ${target.namespace}/${target.pod} timed out after ${timeoutMs / 1000}s`)
              : new ExecNotStartedError(`exec in ${target.namespace}/${target.pod}: the API server did not open the stream within ${timeoutMs / 1000}s; the command did not start`),
          ),
        ),
      timeoutMs,
    );
    new Exec(kc)
      .exec(target.namespace, target.pod, target.container, argv, out, err, stdin, false, (status) => {
        finish(() => resolve({ stdout: out.text(), stderr: err.text(), exitCode: exitCodeFromStatus(status) }));
      })
      .then((ws) => {
        // a stream that opens after its deadline is closed at once: its caller has moved on
        if (settled) return ws.close();
        connected = true;
        ws.on('close', () => {
          // the status callback normally fires first; if not, the stream ended without an exit status
          setTimeout(() => finish(() => resolve({ stdout: out.text(), stderr: err.text(), exitCode: -1 })), 100);
        });
        ws.on('error', (e: Error) => finish(() => reject(e)));
      })
      .catch((e: unknown) => finish(() => reject(e instanceof Error ? e : new Error(String(e)))));
  });
}
