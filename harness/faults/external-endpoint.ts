// Set-up: a server outside the cluster that pods reach through the nodes' NAT, a container on the kind nodes'
// Docker network with a stable alias (the pods resolve it through CoreDNS and Docker's embedded DNS). Started with
// testcontainers, labelled with the run id; journalled like a fault, so revert and `faultline recover` remove it.
import { z } from 'zod';
import { run } from '../cluster/process.js';
import { containerRunning, docker } from './registry-upstream.js';
import type { Fault } from './types.js';

export const EXTERNAL_LABEL = 'faultline.external-endpoint';

export const ExternalEndpointParams = z
  .object({
    network: z.string().min(1).default('kind'),
    alias: z.string().regex(/^[a-z0-9][a-z0-9.-]*$/).default('faultline-external'),
    /** a local image with an HTTP server (registry:2 answers GET /v2/ with 200) */
    image: z.string().min(1).default('registry:2'),
    port: z.number().int().min(1).max(65535).default(5000),
    path: z.string().startsWith('/').default('/v2/'),
  })
  .strict();
export type ExternalEndpointParams = z.infer<typeof ExternalEndpointParams>;

export interface ExternalEndpointRecord {
  container: string;
  network: string;
  alias: string;
}

export const externalEndpoint: Fault<ExternalEndpointParams, ExternalEndpointRecord> = {
  type: 'external-endpoint',
  description: 'set-up: an HTTP server container on the kind network, outside the cluster, for pods to reach through NAT',
  paramsSchema: ExternalEndpointParams,

  async plan(ctx, p) {
    return { container: `faultline-external-${ctx.runId}`, network: p.network, alias: p.alias };
  },

  async apply(ctx, p, r) {
    if (!(await containerRunning(r.container))) {
      // the reaper image cannot be pulled where there is no registry; revert removes the container instead
      process.env.TESTCONTAINERS_RYUK_DISABLED ??= 'true';
      const { GenericContainer, Wait } = await import('testcontainers');
      await new GenericContainer(p.image)
        .withName(r.container)
        .withNetworkMode(p.network)
        .withNetworkAliases(p.alias)
        .withLabels({ [EXTERNAL_LABEL]: ctx.runId, 'app.kubernetes.io/managed-by': 'faultline', 'faultline.cluster': ctx.cluster.name })
        .withExposedPorts(p.port)
        .withWaitStrategy(Wait.forHttp(p.path, p.port))
        .start();
    }
    ctx.log(`external endpoint ${r.container} on network ${r.network} as http://${r.alias}:${p.port}${p.path}`);
  },

  async revert(ctx, r) {
    const res = await run([docker(), 'rm', '-f', '-v', r.container], { reject: false, timeoutMs: 60_000 });
    if (res.exitCode !== 0 && !/No such container/i.test(res.stderr)) throw new Error(`cannot remove ${r.container}: ${res.stderr.trim()}`);
    ctx.log(res.exitCode === 0 ? `removed external endpoint ${r.container}` : `external endpoint ${r.container} already gone`);
  },

  describe(r) {
    return `external endpoint container ${r.container} removed`;
  },
};
