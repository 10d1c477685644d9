import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { CLUSTER_PREFIX, clusterName } from '../../cluster/naming.js';
import { findClusterRecord, readBaseline, readClusterRecords, recordBaseline, type ClusterRecord } from '../../cluster/records.js';
import { connect } from '../../cluster/kube.js';
import type { ClusterRef, Provider } from '../../cluster/types.js';
import { parseClusterState } from '../../engine/baseline.js';
import { clusterCleanCheck, SETTLE_MS } from '../../engine/clean-check.js';
import { parseSeconds } from '../../core/durations.js';
import { errorMessage } from '../../core/errors.js';
import { ClusterNameTaken, forgetOwned, lockCluster, recordDistrust } from '../../cluster/ownership.js';
import { LockHeld } from '../../core/lock.js';
import { closeJournalsOf } from '../../engine/journal.js';
import { UserError } from '../../core/errors.js';
import { repoRoot } from '../../core/paths.js';
import { EXIT, parseChoice, providerReady, say, out } from '../common.js';

const CREATABLE = ['kind', 'k3d'] as const;

export function registerCluster(program: Command): void {
  const cluster = program.command('cluster').description('make, list and delete faultline clusters');
  cluster
    .command('up')
    .description(`create a cluster (named ${CLUSTER_PREFIX}*) and record it as faultline's`)
    .option('--name <name>', `cluster name (prefixed with ${CLUSTER_PREFIX} if needed)`)
    .option('--config <path>', 'kind config file', 'kind-configs/one-worker.yaml')
    .option('--image <ref>', 'node image (default: $FAULTLINE_NODE_IMAGE, the forged image, or kind\'s own)')
    .option('--provider <kind>', 'kind or k3d', 'kind')
    .addHelpText('after', '\nExamples:\n  faultline cluster up --name dev\n  faultline cluster up --name ha --config kind-configs/ha.yaml\n  faultline run statefulset-env-conflict --cluster faultline-dev --keep')
    .action(async (flags: { name?: string; config: string; image?: string; provider: string }) => {
      const kind = parseChoice(flags.provider, CREATABLE, '--provider');
      const config = [resolve(flags.config), resolve(repoRoot(), flags.config)].find((p) => existsSync(p));
      if (kind === 'kind' && !config) throw new UserError(`kind config ${flags.config} does not exist`, 'pass --config with an existing file');
      const name = clusterName(flags.name);
      const provider = await providerReady(kind, say);
      let ref;
      try {
        ref = await provider.create({
          name,
          ...(kind === 'kind' && config ? { configPath: config } : {}),
          ...(flags.image ? { image: flags.image } : {}),
          onProgress: say,
        });
      } catch (err) {
        if (!(err instanceof ClusterNameTaken)) throw err;
        throw new UserError(err.message, err.ours ? `use --cluster ${name}, or \`faultline cluster down ${name}\` first` : 'pick another --name; faultline never takes over a cluster it did not create');
      }
      await takeBaseline(provider, ref);
      out(`${ref.name}\ncontext ${ref.context}\nkubeconfig ${ref.kubeconfigPath}\n`);
    });
  cluster
    .command('check')
    .description("prove a cluster faultline made is as `cluster up` left it: no open journal, nothing of faultline's left, the namespaces, kube-system and each node's files as captured then")
    .argument('<name>', 'cluster name')
    .option('--within <seconds>', 'how long to wait for the cluster to settle (a restarted pod to be Ready, a namespace to go); 0 looks once', String(SETTLE_MS / 1000))
    .addHelpText('after', '\nExit status: 0 when proven as it was, 1 with one line per difference, 2 for bad input.\n\nExamples:\n  faultline cluster check faultline-dev\n  faultline cluster check dev --within 10')
    .action(async (raw: string, flags: { within: string }) => {
      const within = flags.within.trim() === '0' ? 0 : parseSeconds(flags.within);
      if (within === undefined) throw new UserError(`--within must be a number of seconds (got "${flags.within}")`, 'e.g. --within 90');
      const rec = findClusterRecord(clusterName(raw)) ?? findClusterRecord(raw);
      if (!rec) throw new UserError(`no faultline cluster named "${raw}"`, 'see `faultline cluster list`; only clusters made by `faultline cluster up` have a baseline');
      const stored = readBaseline(rec);
      if (stored === undefined) throw new UserError(`cluster ${rec.name} has no baseline`, 'it was made before faultline recorded baselines; make it anew with `faultline cluster up`');
      const base = parseClusterState(stored);
      const provider = await providerReady(rec.provider);
      const left = await clusterCleanCheck(provider, connect, within * 1000).left(rec, base);
      if (left.length === 0) out(`${rec.name}: proven as it was at ${base.capturedAt}\n`);
      else out(`${rec.name}: not as it was at ${base.capturedAt}:\n${left.map((l) => `  ${l}\n`).join('')}`);
      process.exitCode = left.length === 0 ? EXIT.ok : EXIT.failed;
    });
  cluster
    .command('down')
    .description('delete a cluster faultline created')
    .argument('[name]', 'cluster name')
    .option('--all', 'every cluster faultline created')
    .addHelpText('after', '\nExamples:\n  faultline cluster down faultline-dev\n  faultline cluster down dev\n  faultline cluster down --all')
    .action(async (raw: string | undefined, flags: { all?: boolean }) => {
      if (!!raw === !!flags.all) throw new UserError(raw ? 'both a name and --all given' : 'no cluster named', 'pass a name or --all');
      const recs = flags.all ? readClusterRecords() : [findClusterRecord(clusterName(raw)) ?? findClusterRecord(raw!)];
      if (!recs[0]) throw new UserError(`no faultline cluster named "${raw}"`, 'see `faultline cluster list`; faultline deletes only clusters it created');
      for (const rec of recs as ClusterRecord[]) out(`${await downOne(rec)}\n`);
    });
  cluster
    .command('list')
    .description('list the clusters faultline created (from the state dir)')
    .action(() => {
      for (const r of readClusterRecords()) out(`${r.name}\t${r.provider}\t${r.context}\t${r.createdAt}\n`);
    });
}

/** Deletes one recorded cluster once the record holds; a record whose cluster is gone is forgotten. Journals left
 *  open on it are closed: their faults went with it. */
async function downOne(rec: ClusterRecord): Promise<string> {
  const provider = await providerReady(rec.provider);
  const why = await recordDistrust(rec, provider);
  if (why && (await provider.list()).includes(rec.name)) {
    throw new UserError(`will not delete cluster ${rec.name}: its record is not trusted (${why})`, `delete it with ${rec.provider} itself if it is yours`);
  }
  let lock;
  try {
    lock = lockCluster(rec, `faultline cluster down ${rec.name}`);
  } catch (err) {
    if (err instanceof LockHeld) throw new UserError(`cluster ${rec.name} is in use by pid ${err.owner.pid} (${err.owner.command})`, 'stop that run first (Ctrl-C reverts)');
    throw err;
  }
  try {
    if (why) forgetOwned(rec.provider, rec.name);
    else await provider.delete(rec.name);
    const closed = closeJournalsOf(rec, `cluster ${rec.name} was deleted by \`faultline cluster down\``);
    return `deleted ${rec.name}${why ? ' (it was already gone; record forgotten)' : ''}${closed.length ? `; closed journal(s) ${closed.join(', ')}` : ''}`;
  } finally {
    lock.release();
  }
}

/** The new cluster's baseline, for `cluster check`; a cluster whose baseline cannot be read is still made. */
async function takeBaseline(provider: Provider, ref: ClusterRef): Promise<void> {
  const t0 = Date.now();
  try {
    recordBaseline(ref, await clusterCleanCheck(provider, connect).capture(ref));
    say(`recorded cluster ${ref.name}'s baseline for \`faultline cluster check\` in ${((Date.now() - t0) / 1000).toFixed(1)}s`);
  } catch (err) {
    say(`could not record cluster ${ref.name}'s baseline (${errorMessage(err)}); \`faultline cluster check\` will refuse it`);
  }
}
