import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { CLUSTER_PREFIX, clusterName } from '../../cluster/naming.js';
import { findClusterRecord, readClusterRecords, type ClusterRecord } from '../../cluster/records.js';
import { ClusterNameTaken, forgetOwned, lockCluster, recordDistrust } from '../../cluster/ownership.js';
import { LockHeld } from '../../core/lock.js';
import { closeJournalsOf } from '../../engine/journal.js';
import { UserError } from '../../core/errors.js';
import { repoRoot } from '../../core/paths.js';
import { parseChoice, providerReady, say, out } from '../common.js';

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
      out(`${ref.name}\ncontext ${ref.context}\nkubeconfig ${ref.kubeconfigPath}\n`);
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
