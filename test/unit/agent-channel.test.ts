// The agent channel that does not need the API server (cluster/agent-channel.ts), without a cluster: the agent's
// side is a TLS server in this test process standing in for socat (same certificates, client certificate
// required), feeding each connection to the real serve script under this machine's sh. What it cannot show: socat
// itself, which the e2e suite (node-agent.test.ts) runs in the agent image.
import { afterEach, describe, expect, test } from '@jest/globals';
import { spawn } from 'node:child_process';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { createServer, type Server } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { ChannelNotOpenError, execOverChannel, findChannel, parseAnswer, removeChannel, request, saveChannel, SERVE_SCRIPT, type AgentChannel } from '../../harness/cluster/agent-channel.js';
import { issueChannel } from '../../harness/faults/node-agent.js';
import { useTempStateDir } from './helpers/tmp.js';

const state = useTempStateDir();
const servers: Server[] = [];
afterEach(() => {
  for (const s of servers.splice(0)) s.close();
});

/** An agent on 127.0.0.1: mutual TLS with the set-up's certificates, the serve script behind each connection. */
async function agent(serverPem: string, ca: string): Promise<number> {
  const server = createServer({ cert: serverPem, key: serverPem, ca, requestCert: true, rejectUnauthorized: true }, (socket) => {
    const sh = spawn('sh', ['-c', SERVE_SCRIPT], { stdio: ['pipe', 'pipe', 'inherit'] });
    socket.pipe(sh.stdin);
    sh.stdout.pipe(socket);
    sh.on('exit', () => sh.stdout.once('end', () => socket.end()));
    socket.on('error', () => sh.kill());
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

async function channel(): Promise<{ ch: AgentChannel; serverPem: string }> {
  const { channel: ch, serverPem } = await issueChannel({ cluster: 'c1', namespace: 'faultline-agent-abc', port: 0, addresses: { n1: '127.0.0.1' }, roles: { n1: ['control-plane'] } });
  return { ch, serverPem };
}

describe('the request and the answer', () => {
  test('a request is the script in base64 and the stdin length on one line, then stdin', () => {
    const r = request("echo 'a b'", 'héllo').toString('utf8');
    const [line, rest] = [r.slice(0, r.indexOf('\n')), r.slice(r.indexOf('\n') + 1)];
    const [script, size] = line.split(' ');
    expect(Buffer.from(script!, 'base64').toString('utf8')).toBe("echo 'a b'");
    expect(Number(size)).toBe(Buffer.byteLength('héllo'));
    expect(rest).toBe('héllo');
  });

  test('an answer is complete only with its exit code, stdout and stderr lines', () => {
    const b64 = (s: string) => Buffer.from(s).toString('base64');
    expect(parseAnswer(`3\n${b64('out\n')}\n${b64('err')}\n`)).toEqual({ exitCode: 3, stdout: 'out\n', stderr: 'err' });
    expect(parseAnswer(`3\n${b64('out')}\n`)).toBeUndefined();
    expect(parseAnswer('')).toBeUndefined();
    expect(parseAnswer('x\n\n\n')).toBeUndefined();
  });
});

describe('a command over mutual TLS to the serve script', () => {
  test("exit code, stdout and stderr come back apart, and stdin reaches the command whole", async () => {
    const { ch, serverPem } = await channel();
    const c = { ...ch, port: await agent(serverPem, ch.ca) };
    expect(await execOverChannel(c, 'n1', "printf 'hi\\n'; echo oops >&2; exit 3")).toEqual({ exitCode: 3, stdout: 'hi\n', stderr: 'oops\n' });
    const input = 'line one\nline two with "quotes" and $dollars\n';
    expect(await execOverChannel(c, 'n1', 'cat', { input })).toEqual({ exitCode: 0, stdout: input, stderr: '' });
    expect((await execOverChannel(c, 'n1', 'head -c 3 /dev/zero | wc -c')).stdout.trim()).toBe('3');
  });

  test("a client certificate of another set-up's CA gets no answer", async () => {
    const { ch, serverPem } = await channel();
    const other = (await channel()).ch;
    const port = await agent(serverPem, ch.ca);
    await expect(execOverChannel({ ...ch, port, cert: other.cert, key: other.key }, 'n1', 'echo should-not-run')).rejects.toThrow(/node n1 \(127\.0\.0\.1:\d+\): the agent channel/);
  });

  test('an agent that does not listen is a channel that did not open (safe to try again), and an unknown node is refused', async () => {
    const { ch } = await channel();
    const server = createServer({});
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await expect(execOverChannel({ ...ch, port }, 'n1', 'true')).rejects.toBeInstanceOf(ChannelNotOpenError);
    await expect(execOverChannel(ch, 'n2', 'true')).rejects.toThrow('no agent channel to node n2');
  });
});

describe("faultline's half in the state dir", () => {
  test('saved with mode 0600, found by cluster and node, removed by namespace', async () => {
    const { ch } = await channel();
    saveChannel(ch);
    expect(statSync(join(state.path, 'agent-channels', 'faultline-agent-abc.json')).mode & 0o777).toBe(0o600);
    expect(findChannel('c1', 'n1')?.namespace).toBe('faultline-agent-abc');
    expect(findChannel('c1')?.roles).toEqual({ n1: ['control-plane'] });
    expect(findChannel('c1', 'n2')).toBeUndefined();
    expect(findChannel('c2', 'n1')).toBeUndefined();
    saveChannel({ ...ch, namespace: 'faultline-agent-old', cluster: 'c3', notAfter: new Date(Date.now() - 1_000).toISOString() });
    expect(findChannel('c3', 'n1')).toBeUndefined();
    removeChannel('faultline-agent-abc');
    expect(findChannel('c1', 'n1')).toBeUndefined();
  });
});
