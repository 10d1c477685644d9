// The load probes' wait for a reachable target before the fault, against real sockets on this host (no cluster).
import { describe, expect, test } from '@jest/globals';
import { createServer, type AddressInfo } from 'node:net';
import { waitReachable } from '../../harness/load/k6.js';

describe('waitReachable', () => {
  test('a listening port answers at once; a closed one gives up after the bound; one that opens late is waited for', async () => {
    const server = createServer((s) => s.end()).listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    const port = (server.address() as AddressInfo).port;
    expect(await waitReachable(`http://127.0.0.1:${port}/v2/`, 5_000)).toBeLessThan(1);
    await new Promise((r) => server.close(r));
    expect(await waitReachable(`http://127.0.0.1:${port}/`, 1_500)).toBeUndefined();
    const late = createServer((s) => s.end());
    setTimeout(() => late.listen(port, '127.0.0.1'), 1_200);
    const waited = await waitReachable(`http://127.0.0.1:${port}/`, 10_000);
    expect(waited).toBeGreaterThanOrEqual(1);
    await new Promise((r) => late.close(r));
  });
});
