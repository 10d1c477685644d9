// A Duplex stream to a pod's port through the API server's port-forward (the client library's PortForward,
// not kubectl), so a TLS handshake can run against exactly one pod.
import { Duplex, PassThrough, Writable } from 'node:stream';
import { PortForward, type KubeConfig } from '@kubernetes/client-node';

export async function podPortStream(kc: KubeConfig, namespace: string, pod: string, port: number): Promise<{ stream: Duplex; close(): void }> {
  const toPod = new PassThrough();
  let duplex: Duplex;
  const fromPod = new Writable({
    write(chunk: Buffer, _enc, cb) {
      duplex.push(chunk);
      cb();
    },
    final(cb) {
      duplex.push(null);
      cb();
    },
  });
  const errors = new Writable({
    write(chunk: Buffer, _enc, cb) {
      // the error channel's first frame carries only the port number (stripped by the library): empty
      const text = chunk.toString('utf8').trim();
      if (text) duplex.destroy(new Error(`port-forward to ${namespace}/${pod}:${port}: ${text}`));
      cb();
    },
  });
  duplex = new Duplex({
    read() {},
    write(chunk: Buffer, _enc, cb) {
      toPod.write(chunk, cb);
    },
    final(cb) {
      toPod.end();
      cb();
    },
  });
  // the TLS socket on top reports failures through its own error event; an error here must never be unhandled
  duplex.on('error', () => {});
  const ws = await new PortForward(kc).portForward(namespace, pod, [port], fromPod, errors, toPod);
  const socket = ws as unknown as { close?(): void; on?(ev: string, fn: () => void): void };
  socket.on?.('close', () => duplex.push(null));
  return {
    stream: duplex,
    close: () => {
      toPod.end();
      socket.close?.();
    },
  };
}
