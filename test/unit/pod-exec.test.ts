// execInPod against a fake API server (a local HTTP server, not Kubernetes): a stream the server never opens is
// told apart from a command that ran too long, and exec through an agent retries only the first.
import { afterEach, describe, expect, test } from '@jest/globals';
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import { AgentNodeProvider } from '../../harness/cluster/agent-provider.js';
import { ExistingProvider } from '../../harness/cluster/existing.js';
import { ExecNotStartedError, execInPod } from '../../harness/cluster/pod-exec.js';

const WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const servers: Server[] = [];
const sockets: Socket[] = [];

afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

/** A fake API server that takes exec upgrades and then says nothing: `open` answers the handshake first. */
async function silentApi(open: boolean): Promise<{ kc: KubeConfig; upgrades: () => number }> {
  let upgrades = 0;
  const server = createServer();
  server.on('upgrade', (req, socket: Socket) => {
    upgrades++;
    sockets.push(socket);
    if (!open) return;
    const accept = createHash('sha1').update(`${req.headers['sec-websocket-key']}${WS_GUID}`).digest('base64');
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\nSec-WebSocket-Protocol: v4.channel.k8s.io\r\n\r\n`);
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, skipTLSVerify: true }],
    users: [{ name: 'u' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  return { kc, upgrades: () => upgrades };
}

const target = { namespace: 'faultline-agent-1', pod: 'agent-1', container: 'agent' };

function agentOn(kc: KubeConfig): AgentNodeProvider {
  const running = { metadata: { namespace: target.namespace, name: target.pod }, status: { phase: 'Running', containerStatuses: [{ ready: true }] } };
  const kube = { kc, core: { listPodForAllNamespaces: async () => ({ items: [running] }) } } as any;
  return new AgentNodeProvider(new ExistingProvider(), { connect: () => kube, kubeadm: false, retryMs: 1_500 });
}

describe('exec through the API', () => {
  test('a stream the API server never opens: the command did not start', async () => {
    const api = await silentApi(false);
    const err = await execInPod(api.kc, target, ['true'], { timeoutMs: 300 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ExecNotStartedError);
    expect(String(err)).toMatch(/did not open the stream within 0.3s; the command did not start/);
  });

  test('an opened stream that runs past its deadline: timed out', async () => {
    const api = await silentApi(true);
    const err = await execInPod(api.kc, target, ['true'], { timeoutMs: 500 }).catch((e: unknown) => e);
    expect(err).not.toBeInstanceOf(ExecNotStartedError);
    expect(String(err)).toMatch(/exec in faultline-agent-1\/agent-1 timed out after 0.5s/);
  });

  test('through an agent, an unopened stream is tried again until the retry window ends', async () => {
    const api = await silentApi(false);
    await expect(agentOn(api.kc).exec({ name: 'c', provider: 'existing' } as any, 'cp-1', ['true'], { timeoutMs: 300 })).rejects.toBeInstanceOf(ExecNotStartedError);
    expect(api.upgrades()).toBeGreaterThanOrEqual(2);
  }, 20_000);

  test('through an agent, a command that ran too long is not run again (it may have acted)', async () => {
    const api = await silentApi(true);
    await expect(agentOn(api.kc).exec({ name: 'c', provider: 'existing' } as any, 'cp-1', ['true'], { timeoutMs: 300 })).rejects.toThrow(/timed out after 0.3s/);
    expect(api.upgrades()).toBe(1);
  }, 20_000);
});
