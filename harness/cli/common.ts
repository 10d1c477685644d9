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
import { redactText } from '../core/redact.js';
import { KubeConfig } from '@kubernetes/client-node';

export const EXIT = { ok: 0, failed: 1, badInput: 2, sighup: 129, sigint: 130, sigterm: 143 } as const;

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

/** Standard output, redacted like every other writer: a journal error or a finding may quote an API answer. */
export function out(text: string): void {
  process.stdout.write(redactText(text));
}

/** One line on stderr, "faultline: ...", redacted: a log line may quote an API answer or a manifest. */
export function say(msg: string): void {
  process.stderr.write(`faultline: ${redactText(msg)}\n`);
}

/** "[  12s] detect: waiting for ..." on stderr, redacted; times are from the start of the command. */
export function progressPrinter(start = Date.now(), showScenario = false) {
  return (scenario: string, stage: string, msg: string) => {
    const t = Math.round((Date.now() - start) / 1000);
    process.stderr.write(redactText(`[${String(t).padStart(4)}s] ${showScenario ? `${scenario} ` : ''}${stage}: ${msg}`) + '\n');
  };
}

export const TRAPPED_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
type Trapped = (typeof TRAPPED_SIGNALS)[number];

export interface SignalDeps {
  /** what is still in place right now, one item each (open journal entries, clusters this run created) */
  leftBehind(): string[];
  /** the commands that undo it */
  undo(): string[];
  on?(sig: Trapped, h: (sig: Trapped) => void): void;
  off?(sig: Trapped, h: (sig: Trapped) => void): void;
  exit?(code: number): void;
  write?(line: string): void;
}

/** First SIGINT/SIGTERM/SIGHUP aborts the current stage (revert still runs); a second one exits at once, saying
 *  exactly what is left in place and how to undo it. */
export function trapSignals(controller: AbortController, deps: SignalDeps): () => void {
  const on = deps.on ?? ((sig, h) => process.on(sig, h));
  const off = deps.off ?? ((sig, h) => process.off(sig, h));
  const write = deps.write ?? ((l: string) => say(l));
  const exit = deps.exit ?? ((code: number) => process.exit(code));
  let count = 0;
  const handler = (sig: Trapped) => {
    count++;
    if (count === 1) {
      write(`${sig} received; stopping the current stage, then reverting (again to exit now)`);
      controller.abort(sig);
      return;
    }
    const left = deps.leftBehind();
    if (left.length === 0) write(`${sig} again: exiting; nothing faultline changed is left in place`);
    else {
      write(`${sig} again: exiting before the revert finished; left in place: ${left.join('; ')}`);
      write(`undo it with: ${deps.undo().join(' && ')}`);
    }
    exit(signalExit(sig));
  };
  for (const sig of TRAPPED_SIGNALS) on(sig, handler);
  return () => {
    for (const sig of TRAPPED_SIGNALS) off(sig, handler);
  };
}

export function signalExit(reason: unknown): number {
  const r = String(reason);
  return r === 'SIGTERM' ? EXIT.sigterm : r === 'SIGHUP' ? EXIT.sighup : EXIT.sigint;
}
