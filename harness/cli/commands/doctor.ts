import type { Command } from 'commander';
import { scan, type DetectorError } from '../../detectors/registry.js';
import type { Finding } from '../../detectors/types.js';
import { builtinRegistries } from '../../engine/registries.js';
import { redactDeep } from '../../core/redact.js';
import { EXIT, connectChecked, currentContext, parseChoice, resolveExistingTarget } from '../common.js';
import { existingRef } from '../../cluster/existing.js';
import { makeProvider } from '../../cluster/registry.js';

const DOCTOR_FORMATS = ['text', 'json', 'markdown'] as const;

export function renderFindings(findings: Finding[], format: (typeof DOCTOR_FORMATS)[number], context: string, errors: DetectorError[] = []): string {
  const safe = redactDeep(findings);
  const errs = redactDeep(errors);
  if (format === 'json') return JSON.stringify({ context, findings: safe, errors: errs }, null, 2) + '\n';
  const couldNot = errs.map((e) => `detector ${e.detector} could not look: ${e.message}`);
  if (safe.length === 0 && errs.length === 0) return format === 'markdown' ? `# faultline doctor: ${context}\n\nNo findings.\n` : `faultline doctor: ${context}: no findings\n`;
  if (format === 'markdown') {
    return (
      `# faultline doctor: ${context}\n\n` +
      safe
        .map((f) => `## ${f.detector} (${f.severity})\n\n${f.summary}\n\nRoot cause: ${f.rootCause}\n\nRunbook: \`faultline runbook ${f.runbook}\`\n\n${f.evidence.map((e) => `- ${e}`).join('\n')}\n`)
        .join('\n') +
      (couldNot.length ? `\n## Detectors that could not look\n\n${couldNot.map((l) => `- ${l}`).join('\n')}\n` : '')
    );
  }
  return (
    [
      ...safe.map((f) => [`[${f.severity}] ${f.detector}: ${f.summary}`, `  root cause: ${f.rootCause}`, `  runbook: faultline runbook ${f.runbook}`, ...f.evidence.map((e) => `  - ${e}`)].join('\n')),
      ...couldNot,
    ].join('\n\n') + `\n\n${safe.length} finding(s)${errs.length ? `, ${errs.length} detector(s) could not look` : ''} in ${context}\n`
  );
}

export function registerDoctor(program: Command): void {
  program
    .command('doctor')
    .description('run every detector against a cluster, read-only: names root causes with evidence, changes nothing')
    .option('--context <name>', 'kubeconfig context (default: the current context)')
    .option('--cluster <name>', 'a cluster made by `faultline cluster up`')
    .option('-n, --namespace <ns...>', 'only these namespaces')
    .option('-o, --output <format>', `output: ${DOCTOR_FORMATS.join(', ')}`, 'text')
    .addHelpText(
      'after',
      `
Examples:
  faultline doctor                         the current kubectl context
  faultline doctor --context staging -o json
  faultline doctor --cluster faultline-dev -n harbor

Exit codes: 0 nothing found, 1 findings (or a detector could not look), 2 bad input or unreachable cluster.`,
    )
    .action(async (flags: { context?: string; cluster?: string; namespace?: string[]; output: string }) => {
      const format = parseChoice(flags.output, DOCTOR_FORMATS, '--output');
      const ref = resolveExistingTarget(flags) ?? existingRef(currentContext());
      const kube = await connectChecked(ref);
      // node-level detectors (etcd) read the nodes where the provider can reach them (a kind cluster made here)
      const ctx = { kube, ...(flags.namespace ? { namespaces: flags.namespace } : {}), provider: makeProvider(ref.provider), cluster: ref };
      const { findings, errors } = await scan(ctx, builtinRegistries().detectors);
      process.stdout.write(renderFindings(findings, format, ref.context, errors));
      // a detector that could not look is not a healthy answer
      process.exitCode = findings.length || errors.length ? EXIT.failed : EXIT.ok;
    });
}
