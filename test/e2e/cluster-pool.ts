// One cluster per kind config, shared by the e2e files that ask for it: jest runs the files one after another,
// grouped by the cluster they share (sequencer.js), so at most one shared cluster exists at a time in a jest run
// (lanes.js runs two at once, each with a pool of its own). A file gets the shared cluster only once `faultline
// cluster check` proves it as `faultline cluster up` left it (no open journal, nothing of faultline's left, the
// namespaces, kube-system and every node's files as captured); a cluster that cannot be proven so is deleted and
// made anew, and the log says why. The files share one state dir, so records, kubeconfigs and journals of every
// shared run are in one place. global-teardown.js deletes what is left.
import * as k8s from '@kubernetes/client-node';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { killStillRunning, runCli, waitFor, type CliProcess } from './support.js';
import { MANAGED_BY } from '../../harness/core/labels.js';

export type SharedConfig = 'single' | 'one-worker';

export interface SharedCluster {
  config: SharedConfig;
  name: string;
  stateDir: string;
  env: { FAULTLINE_STATE_DIR: string };
  /** the cluster, proven clean or made anew; returns its kubeconfig path */
  acquire(): Promise<string>;
  /** afterAll: kill the file's CLI processes, `recover` when asked, delete the namespaces its --keep runs left;
   *  the cluster stays for the next file, whose acquire proves it clean */
  release(o: { started: CliProcess[]; tmp: string; recover?: boolean }): Promise<void>;
}

function pool(): { dir: string; id: string } {
  // two jest workers would make or check the same cluster at once: the pool needs the files run one at a time
  if ((process.env.JEST_WORKER_ID ?? '1') !== '1') throw new Error('shared clusters need the e2e files run one at a time: pass --runInBand (npm run test:e2e does)');
  const dir = process.env.FAULTLINE_E2E_POOL;
  const id = process.env.FAULTLINE_E2E_POOL_ID;
  if (!dir || !id) throw new Error('FAULTLINE_E2E_POOL is not set: run the e2e files through jest (test/e2e/global-setup.js makes the pool)');
  return { dir, id };
}

const say = (msg: string) => process.stderr.write(`[pool] ${msg}\n`);

/** The shared cluster of a kind config (kind-configs/<config>.yaml). Its name is fixed for the whole jest run. */
export function sharedCluster(config: SharedConfig): SharedCluster {
  const { dir, id } = pool();
  const stateDir = join(dir, 'state');
  const env = { FAULTLINE_STATE_DIR: stateDir };
  const name = `faultline-e2e-${config}-${id}`;
  const kubeconfig = join(stateDir, 'kubeconfigs', `kind-${name}.yaml`);
  const marker = join(dir, `${config}.cluster`);
  return {
    config,
    name,
    stateDir,
    env,
    async acquire() {
      // one shared cluster at a time: another config's goes first (its files have all run: the sequencer groups them)
      for (const other of readdirSync(dir).filter((f) => f.endsWith('.cluster') && f !== `${config}.cluster`)) {
        const otherName = readFileSync(join(dir, other), 'utf8').trim();
        say(`deleting ${otherName}: no file left needs it`);
        await runCli(['cluster', 'down', otherName], env, 10 * 60_000, 'pool-down');
        rmSync(join(dir, other), { force: true });
      }
      if (existsSync(marker)) {
        const t0 = Date.now();
        const check = await runCli(['cluster', 'check', name], env, 5 * 60_000, 'pool-check');
        if (check.code === 0) {
          say(`reusing ${name} (${((Date.now() - t0) / 1000).toFixed(1)}s to prove it): ${check.stdout.trim()}`);
          return kubeconfig;
        }
        say(`replacing ${name}: ${check.stdout.trim() || check.stderr.trim()}`);
        await runCli(['cluster', 'down', name], env, 10 * 60_000, 'pool-down');
        rmSync(marker, { force: true });
      }
      const up = await runCli(['cluster', 'up', '--name', name, '--config', `kind-configs/${config}.yaml`], env, 20 * 60_000, 'cluster-up');
      if (up.code !== 0) throw new Error(`faultline cluster up ${name} exited ${up.code}:\n${up.stderr}`);
      writeFileSync(marker, `${name}\n`);
      return kubeconfig;
    },
    async release(o) {
      killStillRunning(o.started);
      if (o.recover) await runCli(['recover'], env, 10 * 60_000, 'recover').catch(() => undefined);
      if (existsSync(kubeconfig)) await deleteKeptNamespaces(kubeconfig).catch((err) => say(`could not delete the kept namespaces on ${name}: ${String(err)}`));
      if (!process.env.FAULTLINE_KEEP_CLUSTER) rmSync(o.tmp, { recursive: true, force: true });
    },
  };
}

/** The victim namespaces `--keep` left (labelled as faultline's), deleted and waited for. */
async function deleteKeptNamespaces(kubeconfig: string): Promise<void> {
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(kubeconfig);
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const labelSelector = `${MANAGED_BY.key}=${MANAGED_BY.value}`;
  const kept = (await core.listNamespace({ labelSelector })).items.map((n) => n.metadata!.name!);
  if (kept.length === 0) return;
  say(`deleting the namespaces kept by --keep: ${kept.join(', ')}`);
  for (const ns of kept) await core.deleteNamespace({ name: ns }).catch(() => undefined);
  await waitFor(`namespaces ${kept.join(', ')} gone`, 180_000, async () => (await core.listNamespace({ labelSelector })).items.length === 0);
}
