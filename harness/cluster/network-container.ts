// Containers faultline runs outside the cluster, on the kind nodes' Docker network (an upstream registry, an
// endpoint for pods to reach): started with testcontainers under a stable alias and labelled with the run id, so
// revert and `faultline recover` can remove them by name.
import { describeMissing, findBinary } from './binaries.js';
import { run } from './process.js';

export function docker(): string {
  const p = findBinary('docker', 'FAULTLINE_DOCKER')?.path;
  if (!p) throw new Error(describeMissing('docker', 'FAULTLINE_DOCKER'));
  return p;
}

export async function containerRunning(name: string): Promise<boolean> {
  const res = await run([docker(), 'inspect', '-f', '{{.State.Running}}', name], { reject: false, timeoutMs: 30_000 });
  return res.exitCode === 0 && res.stdout.trim() === 'true';
}

/** Starts `image` as `name` on `network` with `alias`, waits until GET `path` on `port` answers, and returns the
 *  port Docker on this host reaches it at. */
export async function startOnNetwork(o: { name: string; image: string; network: string; alias: string; port: number; path: string; labels: Record<string, string> }): Promise<number> {
  // the reaper image cannot be pulled where there is no registry; revert removes the container instead
  process.env.TESTCONTAINERS_RYUK_DISABLED ??= 'true';
  const { GenericContainer, Wait } = await import('testcontainers');
  const c = await new GenericContainer(o.image)
    .withName(o.name)
    .withNetworkMode(o.network)
    .withNetworkAliases(o.alias)
    .withLabels({ ...o.labels, 'app.kubernetes.io/managed-by': 'faultline' })
    .withExposedPorts(o.port)
    .withWaitStrategy(Wait.forHttp(o.path, o.port))
    .start();
  return c.getMappedPort(o.port);
}

/** Removes a container (and its volumes); false when it was already gone. */
export async function removeContainer(name: string): Promise<boolean> {
  const res = await run([docker(), 'rm', '-f', '-v', name], { reject: false, timeoutMs: 60_000 });
  if (res.exitCode !== 0 && !/No such container/i.test(res.stderr)) throw new Error(`cannot remove ${name}: ${res.stderr.trim()}`);
  return res.exitCode === 0;
}
