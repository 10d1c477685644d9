import { request, type RequestOptions } from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';

/** GET a raw API path (e.g. /metrics) with the kubeconfig's credentials. */
export async function apiRawGet(kc: KubeConfig, path: string, timeoutMs = 10_000): Promise<string> {
  const server = kc.getCurrentCluster()?.server;
  if (!server) throw new Error('no server in kubeconfig');
  const url = new URL(path, server);
  const opts: RequestOptions = { method: 'GET', hostname: url.hostname, port: url.port, path: url.pathname + url.search, timeout: timeoutMs };
  await kc.applyToHTTPSOptions(opts);
  return new Promise((resolve, reject) => {
    const req = request(opts, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => (res.statusCode === 200 ? resolve(body) : reject(new Error(`GET ${path}: HTTP ${res.statusCode}`))));
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${path}: no answer within ${timeoutMs / 1000}s`)));
    req.on('error', reject);
    req.end();
  });
}
