// A way to a node's agent that does not go through the API server: for faults that take the API server down
// (an expired control-plane certificate) until a runbook acts on the node. The agent (host network) listens on a
// port of the node with socat and mutual TLS; faultline connects to the node's address with a client certificate
// of a CA made for that set-up alone, so only this run's faultline reaches it, and only its agents answer.
//
// One command per connection. Request: a line "<base64 of the sh script> <bytes of stdin>", then stdin. Answer
// (once the command exited): its exit code, its stdout in base64 and its stderr in base64, a line each.
//
// The client's key is a file in faultline's state dir (mode 0600, like the kubeconfigs kept there), never in the
// journal, a log line or a report; the agents' key is a Secret in their namespace, deleted with it.
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { z } from 'zod';
import { writeFileAtomic } from '../core/atomic.js';
import { stateDir } from '../core/paths.js';
import type { ExecResult } from './types.js';

/** Where the agent finds its TLS files (the Secret's mount) and the script that serves one connection. */
export const CHANNEL_MOUNT = '/run/faultline-agent';
export const CHANNEL_SECRET = 'agent-channel';

/** Serves one connection: reads the request, runs the script with the stdin that follows, answers. */
export const SERVE_SCRIPT = `#!/bin/sh
read -r script size || exit 1
out=$(mktemp) err=$(mktemp)
head -c "$size" | sh -c "$(printf %s "$script" | base64 -d)" >"$out" 2>"$err"
rc=$?
printf '%s\\n' "$rc"; base64 -w0 <"$out"; echo; base64 -w0 <"$err"; echo
rm -f "$out" "$err"
`;

/** The agent container's command: socat on the node's port, one forked server per connection, client
 *  certificates checked against the set-up's CA. */
export function channelCommand(port: number): string[] {
  const listen = `OPENSSL-LISTEN:${port},reuseaddr,fork,cert=${CHANNEL_MOUNT}/server.pem,cafile=${CHANNEL_MOUNT}/ca.pem,verify=1`;
  return ['sh', '-c', `printf %s "$FAULTLINE_AGENT_SERVE" >/tmp/faultline-serve && chmod +x /tmp/faultline-serve && exec socat ${listen} EXEC:/tmp/faultline-serve`];
}

const Channel = z.object({
  cluster: z.string(),
  namespace: z.string(),
  port: z.number().int(),
  /** node name -> the address faultline connects to */
  addresses: z.record(z.string(), z.string()),
  /** node name -> its roles: the node list while the API server is away */
  roles: z.record(z.string(), z.array(z.string())),
  /** when the set-up's certificates expire (ISO 8601): an expired channel is not used */
  notAfter: z.string(),
  ca: z.string(),
  cert: z.string(),
  key: z.string(),
});
export type AgentChannel = z.infer<typeof Channel>;

function channelsDir(): string {
  return join(stateDir(), 'agent-channels');
}

export function saveChannel(ch: AgentChannel): void {
  writeFileAtomic(join(channelsDir(), `${ch.namespace}.json`), JSON.stringify(ch));
}

export function removeChannel(namespace: string): void {
  rmSync(join(channelsDir(), `${namespace}.json`), { force: true });
}

/** The channel to node's agent on that cluster (to any node's, without one), if a set-up made one; read each
 *  time, since recover runs in another process. */
export function findChannel(cluster: string, node?: string): AgentChannel | undefined {
  const dir = channelsDir();
  if (!existsSync(dir)) return undefined;
  for (const f of readdirSync(dir).filter((x) => x.endsWith('.json'))) {
    const r = Channel.safeParse(JSON.parse(readFileSync(join(dir, f), 'utf8')));
    if (r.success && r.data.cluster === cluster && (node === undefined || r.data.addresses[node]) && Date.parse(r.data.notAfter) > Date.now()) return r.data;
  }
  return undefined;
}

/** The connection was refused or never secured: the command did not start, so trying again is safe. */
export class ChannelNotOpenError extends Error {
  override name = 'ChannelNotOpenError';
}

/** Parses the agent's answer; undefined while it is incomplete. */
export function parseAnswer(text: string): ExecResult | undefined {
  const lines = text.split('\n');
  if (lines.length < 4 || !/^\d+$/.test(lines[0]!)) return undefined;
  return { exitCode: Number(lines[0]), stdout: Buffer.from(lines[1]!, 'base64').toString('utf8'), stderr: Buffer.from(lines[2]!, 'base64').toString('utf8') };
}

export function request(script: string, input = ''): Buffer {
  const stdin = Buffer.from(input, 'utf8');
  return Buffer.concat([Buffer.from(`${Buffer.from(script, 'utf8').toString('base64')} ${stdin.length}\n`, 'utf8'), stdin]);
}

/** Runs a sh script in node's agent over the channel. */
export function execOverChannel(ch: AgentChannel, node: string, script: string, opts: { input?: string; timeoutMs?: number } = {}): Promise<ExecResult> {
  const host = ch.addresses[node];
  if (!host) return Promise.reject(new Error(`no agent channel to node ${node}`));
  const timeoutMs = opts.timeoutMs ?? 60_000;
  const where = `node ${node} (${host}:${ch.port})`;
  return new Promise<ExecResult>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let secured = false;
    const socket = connect({ host, port: ch.port, ca: ch.ca, cert: ch.cert, key: ch.key });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(secured ? new Error(`${where}: the command over the agent channel ran past ${timeoutMs / 1000}s`) : new ChannelNotOpenError(`${where}: the agent channel did not open within ${timeoutMs / 1000}s`));
    }, timeoutMs);
    socket.once('secureConnect', () => {
      secured = true;
      socket.write(request(script, opts.input));
    });
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.once('error', (err) => {
      clearTimeout(timer);
      reject(secured ? new Error(`${where}: the agent channel broke: ${err.message}`) : new ChannelNotOpenError(`${where}: the agent channel did not open: ${err.message}`));
    });
    socket.once('close', () => {
      clearTimeout(timer);
      const answer = parseAnswer(Buffer.concat(chunks).toString('utf8'));
      // a connection closed without an answer after it was secured may have run the command: not retried
      if (answer) resolve(answer);
      else reject(secured ? new Error(`${where}: the agent channel closed before the command's answer`) : new ChannelNotOpenError(`${where}: the agent channel closed before it was secured`));
    });
  });
}
