// Set-up: a server outside the cluster that pods reach through the nodes' NAT, a container on the kind nodes'
// Docker network with a stable alias (the pods resolve it through CoreDNS and Docker's embedded DNS). Started with
// testcontainers, labelled with the run id; journalled like a fault, so revert and `faultline recover` remove it.
import { z } from 'zod';
import { containerRunning, removeContainer, startOnNetwork } from '../cluster/network-container.js';
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
      await startOnNetwork({ name: r.container, image: p.image, network: p.network, alias: p.alias, port: p.port, path: p.path, labels: { [EXTERNAL_LABEL]: ctx.runId, 'faultline.cluster': ctx.cluster.name } });
    }
    ctx.log(`external endpoint ${r.container} on network ${r.network} as http://${r.alias}:${p.port}${p.path}`);
  },

  async revert(ctx, r) {
    ctx.log((await removeContainer(r.container)) ? `removed external endpoint ${r.container}` : `external endpoint ${r.container} already gone`);
  },

  describe(r) {
    return `external endpoint container ${r.container} removed`;
  },
};
