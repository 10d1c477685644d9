// k6 from the host against a Service's NodePort over mutual TLS: the probe presents a client certificate from a
// kubernetes.io/tls Secret (the workload's own CA signs it) on a new connection per request. Certificate and key
// reach k6 in its environment only (never a file, so nothing is left behind if the run is killed; never logged).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { z } from 'zod';
import { loadResult, nodePortUrl, reachableFirst, runK6 } from './k6.js';
import type { LoadProbe } from './types.js';

export const K6MtlsParams = z
  .object({
    service: z.string().min(1),
    port: z.string().min(1).default('https'),
    clientSecret: z.string().min(1),
    path: z.string().startsWith('/').default('/'),
    /** requests per second */
    rate: z.number().int().positive().default(20),
    /** relative to the scenario folder */
    script: z.string().min(1).default('k6/mtls-probe.ts'),
  })
  .strict();
export type K6MtlsParams = z.infer<typeof K6MtlsParams>;

export const k6Mtls: LoadProbe<K6MtlsParams> = {
  id: 'k6-mtls',
  description: "k6 over mutual TLS to a Service's NodePort from the host, client certificate from a Secret",
  paramsSchema: K6MtlsParams,

  async run(ctx, p, run) {
    const target = await nodePortUrl(ctx, run.namespace, p.service, p.port, p.path, 'https');
    if (run.phase === 'before') await reachableFirst(ctx, target, run.signal);
    const core = ctx.kube.core;
    const secret = await core.readNamespacedSecret({ name: p.clientSecret, namespace: run.namespace });
    const crt = secret.data?.['tls.crt'];
    const key = secret.data?.['tls.key'];
    if (!crt || !key) throw new Error(`Secret ${run.namespace}/${p.clientSecret} has no tls.crt/tls.key`);
    const dir = mkdtempSync(join(tmpdir(), 'faultline-k6-'));
    const startedAt = new Date();
    try {
      const script = isAbsolute(p.script) ? p.script : resolve(run.scenarioDir, p.script);
      const out = await runK6(
        script,
        {
          TARGET_URL: target,
          CERT_PEM: Buffer.from(crt, 'base64').toString('utf8'),
          KEY_PEM: Buffer.from(key, 'base64').toString('utf8'),
          RATE: String(p.rate),
          DURATION: `${run.seconds}s`,
          HOME: dir,
        },
        join(dir, 'summary.json'),
        { signal: run.signal, timeoutMs: (run.seconds + 60) * 1000 },
      );
      return loadResult('k6-mtls', run.phase, target, startedAt, out);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
