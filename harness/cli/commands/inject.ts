import type { Command } from 'commander';
import { connect } from '../../cluster/kube.js';
import { makeProvider } from '../../cluster/registry.js';
import { KubeDeployer } from '../../engine/deploy.js';
import { UserError, errorMessage } from '../../core/errors.js';
import { applyJournaled, RunJournal } from '../../engine/journal.js';
import { victimNamespace } from '../../faults/victim-namespace.js';
import { lockCluster } from '../../cluster/ownership.js';
import { LockHeld, type Lock } from '../../core/lock.js';
import { builtinRegistries } from '../../engine/registries.js';
import { assertInjectionAllowed } from '../../engine/safety.js';
import { resolveScenarios } from '../../engine/scenario-loader.js';
import { runStage } from '../../engine/stage.js';
import { missingCapability } from '../../engine/suite.js';
import { chooseNodeAccess, NODE_ACCESS_MODES, withNodeAccess, withNodeAgents } from '../../engine/node-agents.js';
import { EXIT, collect, connectChecked, newRunId, parseChoice, resolveExistingTarget, say, out } from '../common.js';
import { assertNoFaultsLeft, withOverrides } from './run.js';

interface InjectFlags {
  cluster?: string;
  context?: string;
  allowContext: string[];
  deploy?: boolean;
  faultParam: string[];
  nodeAccess: string;
  agentImage?: string;
}

export function registerInject(program: Command): void {
  program
    .command('inject')
    .description("apply one scenario's fault and leave it in place (plan, journal, apply); undo with `faultline recover`")
    .argument('<scenario>', 'scenario id')
    .option('--cluster <name>', 'a cluster made by `faultline cluster up`')
    .option('--context <name>', 'a kubeconfig context (needs --allow-context for clusters faultline did not create)')
    .option('--allow-context <name>', 'allow injection into this context (repeatable)', collect, [])
    .option('--deploy', "deploy the scenario's victim first and wait until it is ready")
    .option('--fault-param <key=value>', "override one of the scenario's fault params, or a set-up fault's as TYPE.key (repeatable)", collect, [])
    .option('--node-access <mode>', "how a node-level fault reaches nodes: auto, provider or agent (as for `faultline run`; the agents stay with the fault until `faultline recover`)", 'auto')
    .option('--agent-image <ref>', 'image of the node agent pods (needs nsenter, strace and sh); default on clusters faultline makes: the forged one')
    .addHelpText(
      'after',
      `
Examples:
  faultline inject statefulset-env-conflict --cluster faultline-dev --deploy
  faultline inject etcd-slow-disk --cluster faultline-dev --fault-param delayMs=2000
  faultline inject etcd-slow-disk --context staging --allow-context staging --agent-image REGISTRY/faultline-node-agent:1
  faultline doctor --cluster faultline-dev          see what the detectors say
  faultline recover --run <printed run id>          undo it`,
    )
    .action(async (id: string, flags: InjectFlags) => {
      const registries = builtinRegistries();
      const [chosen] = withOverrides(resolveScenarios([id], false, registries), flags.faultParam, registries);
      const ref = resolveExistingTarget(flags);
      if (!ref) throw new UserError('inject needs a target cluster', 'pass --cluster NAME or --context NAME');
      const access = chooseNodeAccess(parseChoice(flags.nodeAccess, NODE_ACCESS_MODES, '--node-access'), ref.provider, flags.agentImage);
      const [sc] = withNodeAgents([chosen!], access);
      const allowedBy = await assertInjectionAllowed(ref, flags.allowContext);
      assertNoFaultsLeft(ref);
      const kube = await connectChecked(ref);
      const runId = newRunId();
      const command = `faultline inject ${sc!.id} (run ${runId})`;
      const provider = await withNodeAccess(makeProvider(ref.provider), access, connect, ref);
      const missing = missingCapability(sc!, provider.capabilities());
      if (missing) throw new UserError(`${sc!.id} ${missing}`, 'inject it into a cluster that offers it');
      const ctx = { runId, cluster: ref, provider, kube, log: say };
      let clusterLock: Lock;
      try {
        clusterLock = lockCluster(ref, command);
      } catch (err) {
        if (err instanceof LockHeld) throw new UserError(`cluster ${ref.name} is in use by pid ${err.owner.pid} (${err.owner.command})`, 'wait for it to end');
        throw err;
      }
      const journal = RunJournal.create(runId, ref, { command, allowedBy });
      try {
        // what the victim needs outside its namespace comes first, journaled like the fault (recover undoes it)
        for (const [i, st] of sc!.victim.setup.entries()) {
          await applyJournaled(ctx, registries.faults, journal, { scenario: sc!.id, id: `${sc!.id}-setup-${i + 1}`, type: st.type, params: st.params });
          say(`set-up ${st.type} applied`);
        }
        if (flags.deploy) {
          const st = await runStage('deploy', sc!.stageDeadlines.deploy, (s) =>
              new KubeDeployer(undefined, registries.fixtures)
                .deploy({ ...ctx, signal: s.signal }, sc!, s, async (ns) => {
                  await applyJournaled({ ...ctx, signal: s.signal }, registries.faults, journal, { scenario: sc!.id, id: `${sc!.id}-namespace`, type: victimNamespace.type, params: { namespace: ns } });
                })
                .then((o) => o.message), {
            onProgress: (_n, m) => say(`deploy: ${m}`),
          });
          if (st.status !== 'passed') throw new Error(`deploy ${st.status}: ${st.message}`);
        }
        await applyJournaled(ctx, registries.faults, journal, { scenario: sc!.id, id: `${sc!.id}-1`, type: sc!.fault.type, params: sc!.fault.params });
        out(`${runId}\n`);
        say(`${sc!.fault.type} applied to ${ref.context}; undo with \`faultline recover --run ${runId}\``);
        process.exitCode = EXIT.ok;
      } catch (err) {
        say(`inject failed: ${errorMessage(err)}; if a journal entry was written, \`faultline recover --run ${runId}\` undoes it`);
        process.exitCode = EXIT.failed;
      } finally {
        // the fault stays (that is what inject is for); the journal is left for recover to take over
        journal.close();
        clusterLock.release();
      }
    });
}
