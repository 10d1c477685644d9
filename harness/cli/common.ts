// Shared CLI plumbing: one-line errors, targets, progress lines, run ids, signals.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { checkReachable, connect, type KubeClients } from '../cluster/kube.js';
import { existingRef, defaultKubeconfigPath } from '../cluster/existing.js';
import { clusterName } from '../cluster/naming.js';
import { findClusterRecord, readClusterRecords } from '../cluster/records.js';
import { makeProvider, PROVIDER_KINDS } from '../cluster/registry.js';
import type { ClusterRef, Provider, ProviderKind } from '../cluster/types.js';
import { UserError } from '../core/errors.js';
import { KubeConfig } from '@kubernetes/client-node';

export const EXIT = { ok: 0, failed: 1, badInput: 2, sigint: 130, sigterm: 143 } as const;

export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

export function parseChoice<T extends string>(value: string, choices: readonly T[], flag: string): T {
  if (!(choices as readonly string[]).includes(value)) {
    throw new UserError(`${flag} must be one of ${choices.join(', ')} (got "${value}")`, `see faultline --help`);
  }
  return value as T;
}

export function parseProvider(value: string | undefined): ProviderKind {
  return parseChoice(value ?? 'kind', PROVIDER_KINDS, '--provider');
}

export function newRunId(now = new Date()): string {
  const ts = now.toISOString().replace(/[-:]/g, '').replace(/\..*$/, '').replace('T', '-');
  return `${ts}-${randomBytes(2).toString('hex')}`;
}

export interface TargetFlags {
  provider?: string;
  context?: string;
  cluster?: string;
}

/** Current context of the default kubeconfig, for commands that may run without --context. */
export function currentContext(path = defaultKubeconfigPath()): string {
  if (!existsSync(path)) throw new UserError(`no --context given and no kubeconfig at ${path}`, 'pass --context or --cluster');
  const kc = new KubeConfig();
  kc.loadFromFile(path);
  const ctx = kc.getCurrentContext();
  if (!ctx) throw new UserError(`no --context given and ${path} has no current context`, 'pass --context or --cluster');
  return ctx;
}

/** Turns --cluster / --context into a cluster ref, or undefined when neither is given. */
export function resolveExistingTarget(flags: TargetFlags): ClusterRef | undefined {
  if (flags.cluster && flags.context) throw new UserError('--cluster and --context both given', 'pass only one of them');
  if (flags.cluster) {
    const rec = findClusterRecord(clusterName(flags.cluster)) ?? findClusterRecord(flags.cluster);
    if (!rec) {
      const known = readClusterRecords().map((r) => r.name);
      throw new UserError(
        `no faultline cluster named "${flags.cluster}"${known.length ? ` (known: ${known.join(', ')})` : ''}`,
        'create one with `faultline cluster up` or omit --cluster',
      );
    }
    return rec;
  }
  if (flags.context) {
    const rec = readClusterRecords().find((r) => r.context === flags.context);
    return rec ?? existingRef(flags.context);
  }
  return undefined;
}

/** Connects and does one cheap API call with a short timeout; bad kubeconfig or unreachable cluster is exit 2. */
export async function connectChecked(ref: ClusterRef, timeoutMs = 5_000): Promise<KubeClients> {
  const kube = connect(ref);
  await checkReachable(kube.kc, timeoutMs);
  return kube;
}

export async function providerReady(kind: ProviderKind, log?: (m: string) => void): Promise<Provider> {
  const provider = makeProvider(kind, log);
  const pre = await provider.preflight();
  if (!pre.ok) {
    const [what, todo] = splitReason(pre.reason ?? `provider ${kind} is not usable here`);
    throw new UserError(what, todo);
  }
  return provider;
}

function splitReason(reason: string): [string, string] {
  const i = reason.lastIndexOf('; ');
  return i > 0 ? [reason.slice(0, i), reason.slice(i + 2)] : [reason, 'see faultline doctor --help'];
}

/** "[  12s] detect: waiting for ..." on stderr; times are from the start of the command. */
export function progressPrinter(start = Date.now(), showScenario = false) {
  return (scenario: string, stage: string, msg: string) => {
    const t = Math.round((Date.now() - start) / 1000);
    process.stderr.write(`[${String(t).padStart(4)}s] ${showScenario ? `${scenario} ` : ''}${stage}: ${msg}\n`);
  };
}

/** First Ctrl-C/SIGTERM aborts the current stage (revert still runs); a second one exits at once. */
export function trapSignals(controller: AbortController, runId: string): () => void {
  let count = 0;
  const handler = (sig: NodeJS.Signals) => {
    count++;
    if (count === 1) {
      process.stderr.write(`faultline: ${sig} received; stopping the current stage, then reverting (again to exit now)\n`);
      controller.abort(sig);
      return;
    }
    process.stderr.write(`faultline: exiting without revert; undo later with \`faultline recover --run ${runId}\`\n`);
    process.exit(sig === 'SIGTERM' ? EXIT.sigterm : EXIT.sigint);
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return () => {
    process.off('SIGINT', handler);
    process.off('SIGTERM', handler);
  };
}

export function signalExit(reason: unknown): number {
  return String(reason) === 'SIGTERM' ? EXIT.sigterm : EXIT.sigint;
}
