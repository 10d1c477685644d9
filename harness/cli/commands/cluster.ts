import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { CLUSTER_PREFIX, clusterName } from '../../cluster/naming.js';
import { findClusterRecord, forgetCluster, readClusterRecords } from '../../cluster/records.js';
import { UserError } from '../../core/errors.js';
import { repoRoot } from '../../core/paths.js';
import { parseChoice, providerReady } from '../common.js';

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
      if (findClusterRecord(name, kind)) throw new UserError(`cluster ${name} already exists`, `use --cluster ${name}, or \`faultline cluster down ${name}\` first`);
      const provider = await providerReady(kind, (m) => process.stderr.write(`faultline: ${m}\n`));
      const ref = await provider.create({
        name,
        ...(kind === 'kind' && config ? { configPath: config } : {}),
        ...(flags.image ? { image: flags.image } : {}),
        onProgress: (m) => process.stderr.write(`faultline: ${m}\n`),
      });
      process.stdout.write(`${ref.name}\ncontext ${ref.context}\nkubeconfig ${ref.kubeconfigPath}\n`);
    });
  cluster
    .command('down')
    .description('delete a cluster faultline created')
    .argument('<name>', 'cluster name')
    .addHelpText('after', '\nExamples:\n  faultline cluster down faultline-dev\n  faultline cluster down dev')
    .action(async (raw: string) => {
      const rec = findClusterRecord(clusterName(raw)) ?? findClusterRecord(raw);
      if (!rec) throw new UserError(`no faultline cluster named "${raw}"`, 'see `faultline cluster list`; faultline deletes only clusters it created');
      const provider = await providerReady(rec.provider);
      const existing = await provider.list();
      if (existing.includes(rec.name)) await provider.delete(rec.name);
      else forgetCluster(rec.provider, rec.name);
      process.stdout.write(`deleted ${rec.name}\n`);
    });
  cluster
    .command('list')
    .description('list the clusters faultline created (from the state dir)')
    .action(() => {
      for (const r of readClusterRecords()) process.stdout.write(`${r.name}\t${r.provider}\t${r.context}\t${r.createdAt}\n`);
    });
}
