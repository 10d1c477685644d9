import type { Command } from 'commander';
import { scan } from '../../detectors/registry.js';
import type { Severity } from '../../detectors/types.js';
import { DOCTOR_FORMATS, SEVERITIES, atOrAbove, renderFindings } from '../doctor-render.js';
import { builtinRegistries } from '../../engine/registries.js';
import { EXIT, connectChecked, currentContext, parseChoice, resolveExistingTarget, out } from '../common.js';
import { existingRef } from '../../cluster/existing.js';
import { makeProvider } from '../../cluster/registry.js';

export function registerDoctor(program: Command): void {
  program
    .command('doctor')
    .description('run every detector against a cluster, read-only: names root causes with evidence, changes nothing')
    .option('--context <name>', 'kubeconfig context (default: the current context)')
    .option('--cluster <name>', 'a cluster made by `faultline cluster up`')
    .option('-n, --namespace <ns...>', 'only these namespaces')
    .option('-o, --output <format>', `output: ${DOCTOR_FORMATS.join(', ')}`, 'text')
    .option('--severity <level>', `exit 1 only for findings at or above it: ${SEVERITIES.join(', ')}`, 'info')
    .addHelpText(
      'after',
      `
Examples:
  faultline doctor                         the current kubectl context
  faultline doctor --context staging -o json
  faultline doctor --cluster faultline-dev -n harbor
  faultline doctor -o junit --severity critical > doctor.xml     a CI gate on critical findings only

Exit codes: 0 nothing found at or above --severity, 1 findings (or a detector could not look), 2 bad input or
unreachable cluster.`,
    )
    .action(async (flags: { context?: string; cluster?: string; namespace?: string[]; output: string; severity: string }) => {
      const format = parseChoice(flags.output, DOCTOR_FORMATS, '--output');
      const threshold = parseChoice(flags.severity, SEVERITIES, '--severity') as Severity;
      const ref = resolveExistingTarget(flags) ?? existingRef(currentContext());
      const kube = await connectChecked(ref);
      // node-level detectors (etcd) read the nodes where the provider can reach them (a kind cluster made here)
      const ctx = { kube, ...(flags.namespace ? { namespaces: flags.namespace } : {}), provider: makeProvider(ref.provider), cluster: ref };
      const { findings, errors, collectSeconds } = await scan(ctx, builtinRegistries().detectors);
      out(renderFindings(findings, format, ref.context, errors, threshold, collectSeconds));
      // a detector that could not look is not a healthy answer
      process.exitCode = atOrAbove(findings, threshold).length || errors.length ? EXIT.failed : EXIT.ok;
    });
}
