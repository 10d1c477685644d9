// What a run's alerting needs, decided before anything changes: the rules (the standard set and the user's
// checked files), the alerts expected and by when, and the alerting stack as the scenario's first set-up (so it is
// journaled, reverted and recovered like any other).
import { UserError } from '../core/errors.js';
import { rulesText } from '../alerts/manifests.js';
import { loadUserRules } from '../alerts/rule-files.js';
import { alertingStack } from '../alerts/stack.js';
import { NOT_EVALUABLE, STANDARD_RULE_GROUPS } from '../alerts/standard-rules.js';
import { externalAlertNames, externalReader, parseStackUrl, type ExternalStack } from '../alerts/external.js';
import { AlertWatch, alertReports, clusterStackReader, expectationsSettled, type AlertSource } from '../alerts/watch.js';
import type { KubeContext } from '../cluster/context.js';
import { controlPlaneNodes, nodeAccess, nodeSh } from '../cluster/node-access.js';
import { sleep } from '../core/poll.js';
import type { RunState } from './run-state.js';
import type { AlertingPlan, LoadedScenario } from './scenario.js';

export interface AlertFlags {
  alerts?: boolean;
  alertRules?: string[];
  /** NAME or NAME=SECONDS */
  expectAlert?: string[];
  /** the team's own stack, read-only: nothing is deployed */
  prometheus?: string;
  alertmanager?: string;
}

/** An expected alert with no time given must fire while the fault is held this long (20 minutes). */
export const DEFAULT_WITHIN = 1_200;

export function parseExpectAlert(pairs: string[]): Array<{ name: string; within: number }> {
  return pairs.map((p) => {
    const m = /^([A-Za-z_:][A-Za-z0-9_:]*)(?:=(\d+))?$/.exec(p.trim());
    if (!m) throw new UserError(`--expect-alert ${JSON.stringify(p)}: not NAME or NAME=SECONDS`, 'e.g. --expect-alert etcdHighFsyncDurations=900');
    const within = m[2] === undefined ? DEFAULT_WITHIN : Number(m[2]);
    if (within < 1 || within > 86_400) throw new UserError(`--expect-alert ${p}: ${within} s is outside 1..86400`, 'give the seconds from the end of inject');
    return { name: m[1]!, within };
  });
}

const builtinAlerts = [...new Set(STANDARD_RULE_GROUPS.flatMap((g) => g.rules.map((r) => r.alert)))];

/** The scenario's expected alerts and the command line's; the command line's expectation of an alert replaces the
 *  scenario's. */
function expectedFor(sc: LoadedScenario, cliExpect: Array<{ name: string; within: number }>): Array<{ name: string; within: number }> {
  return [...(sc.alerts?.expect ?? []).filter((e) => !cliExpect.some((c) => c.name === e.name)), ...cliExpect];
}

/** --prometheus/--alertmanager checked (bad input before anything changes); undefined when not given. */
function externalStack(flags: AlertFlags): ExternalStack | undefined {
  if (flags.alertmanager && !flags.prometheus) throw new UserError('--alertmanager needs --prometheus: Prometheus decides what is pending and firing', 'add --prometheus URL');
  if (!flags.prometheus) return undefined;
  if (flags.alerts) throw new UserError('--alerts deploys a stack and --prometheus reads yours', 'pass one or the other');
  if (flags.alertRules?.length) throw new UserError('--alert-rules goes into the stack faultline deploys, not into yours', 'load the rules into your Prometheus, or drop --prometheus');
  return { prometheus: parseStackUrl('--prometheus', flags.prometheus), ...(flags.alertmanager ? { alertmanager: parseStackUrl('--alertmanager', flags.alertmanager) } : {}) };
}

/** The scenarios as this run must run them: unchanged when nothing asks for alerts. */
export async function withAlerting(scenarios: LoadedScenario[], flags: AlertFlags): Promise<LoadedScenario[]> {
  const cliExpect = parseExpectAlert(flags.expectAlert ?? []);
  const external = externalStack(flags);
  if (external) return withExternal(scenarios, external, cliExpect);
  const files = flags.alertRules ?? [];
  const wanted = (sc: LoadedScenario) => !!flags.alerts || files.length > 0 || cliExpect.length > 0 || !!sc.alerts;
  if (!scenarios.some(wanted)) return scenarios;
  const user = files.length ? await loadUserRules(files) : { groups: [], alerts: [] };
  const rules = rulesText([...STANDARD_RULE_GROUPS, ...user.groups]);
  return scenarios.map((sc) => {
    if (!wanted(sc)) return sc;
    const expect = expectedFor(sc, cliExpect);
    const unknown = expect.filter((e) => !builtinAlerts.includes(e.name) && !user.alerts.includes(e.name) && !(e.name in NOT_EVALUABLE));
    if (unknown.length) {
      throw new UserError(
        `${sc.id}: expected alert${unknown.length > 1 ? 's' : ''} ${unknown.map((e) => e.name).join(', ')} defined by no rule of the run`,
        `give the rule file that defines ${unknown.length > 1 ? 'them' : 'it'} with --alert-rules, or pick one of: ${builtinAlerts.join(', ')}`,
      );
    }
    return {
      ...sc,
      victim: { ...sc.victim, setup: [{ type: alertingStack.type, params: { rules } }, ...sc.victim.setup] },
      alerting: { expect, userAlerts: user.alerts, builtinAlerts },
    };
  });
}

/** Every scenario watches the team's stack; expected alerts must be ones its rules define. */
async function withExternal(scenarios: LoadedScenario[], external: ExternalStack, cliExpect: Array<{ name: string; within: number }>): Promise<LoadedScenario[]> {
  const defined = await externalAlertNames(external.prometheus);
  return scenarios.map((sc) => {
    const expect = expectedFor(sc, cliExpect);
    const unknown = expect.filter((e) => !defined.includes(e.name));
    if (unknown.length) {
      throw new UserError(
        `${sc.id}: your Prometheus has no alerting rule named ${unknown.map((e) => e.name).join(', ')}`,
        defined.length ? `its alerts: ${defined.slice(0, 20).join(', ')}${defined.length > 20 ? ', ...' : ''}` : 'it has no alerting rules loaded',
      );
    }
    return { ...sc, alerting: { expect, userAlerts: [], builtinAlerts: [], external } };
  });
}

/** What reads the run's alerts: the team's stack, or the one the run deployed (through the API server, else on
 *  the first control-plane node, where the stack runs). */
export function alertWatchFor(plan: AlertingPlan, ctx: KubeContext): AlertWatch {
  if (plan.external) return new AlertWatch(externalReader(plan.external));
  const na = nodeAccess(ctx);
  // the stack's node is looked up once, at the first read the API server does not answer
  let stackNode: Promise<string | undefined> | undefined;
  const onNode = na
    ? async (script: string) => {
        // a failed lookup is not kept: the next read tries again
        const node = await (stackNode ??= controlPlaneNodes(na).then(
          ([first]) => first,
          (err: unknown) => {
            stackNode = undefined;
            throw err;
          },
        ));
        if (!node) throw new Error('no control-plane node');
        const res = await nodeSh(na, node, script, 15_000);
        if (res.exitCode !== 0) throw new Error(`curl on ${node}: exit ${res.exitCode}`);
        return res.stdout;
      }
    : undefined;
  return new AlertWatch(clusterStackReader(ctx.kube.kc, onNode));
}

/** Alerts this run's stack cannot evaluate: the standard stack lacks kube-state-metrics; the team's may not. */
const notEvaluable = (plan: AlertingPlan) => (plan.external ? {} : NOT_EVALUABLE);

/** Seconds deploy may take beyond its deadline with the alerting stack (image load, then its first etcd scrape) */
export const ALERTING_DEPLOY_SECONDS = 240;

/** Seconds detect may take beyond its deadline: the latest time an expected alert may fire. */
export function alertingExtraSeconds(sc: LoadedScenario): number {
  return sc.alerting ? Math.max(0, ...sc.alerting.expect.map((e) => e.within)) : 0;
}

function sourceOf(plan: AlertingPlan): (name: string) => AlertSource | undefined {
  if (plan.external) return () => 'external';
  // the standard alerts this stack cannot evaluate are still the standard set's
  return (name) => (plan.userAlerts.includes(name) ? 'user' : plan.builtinAlerts.includes(name) || name in NOT_EVALUABLE ? 'builtin' : undefined);
}

/** Holds the fault until every expected alert has fired or can no longer fire in time, then stops the watch and
 *  puts the alerts in the report. Throws when an expected alert did not fire in time (the scenario fails). */
export async function settleAlerts(st: RunState, watch: AlertWatch, signal: AbortSignal, progress: (m: string) => void): Promise<void> {
  const plan = st.sc.alerting!;
  const injectEnd = st.injectEnd!;
  try {
    while (!expectationsSettled(watch.seen, plan.expect, injectEnd, Date.now(), notEvaluable(plan))) {
      const waiting = plan.expect.filter((e) => watch.seen.get(e.name)?.firedAt === undefined && !(e.name in notEvaluable(plan))).map((e) => `${e.name} (${watch.seen.get(e.name)?.pendingAt ? 'pending' : 'not yet'}, ${e.within}s allowed)`);
      progress(`holding the fault for the expected alerts: ${waiting.join(', ')}${watch.lastError ? `; last read: ${watch.lastError}` : ''}`);
      // the stack scrapes and evaluates every few seconds (alerts/manifests.ts); looking faster sees nothing new
      await sleep(5_000, signal);
    }
  } finally {
    await recordAlerts(st, watch);
  }
  const missed = (st.report.alerts ?? []).filter((a) => a.expectedWithin !== undefined && a.state !== 'fired');
  if (missed.length) throw new Error(`expected alert${missed.length > 1 ? 's' : ''} did not fire in time: ${missed.map((a) => `${a.name} (${a.state}${a.note ? `: ${a.note}` : ''})`).join(', ')}`);
}

/** Stops the watch and puts what it saw in the report (also when detect failed before the alerts settled). */
export async function recordAlerts(st: RunState, watch: AlertWatch): Promise<void> {
  const plan = st.sc.alerting!;
  await watch.stop();
  st.report.alerts = alertReports({ seen: watch.seen, injectEnd: st.injectEnd!, expected: plan.expect, sourceOf: sourceOf(plan), notEvaluable: notEvaluable(plan) });
}
