// End to end: the Harbor mirror outage, both variants, through the built CLI on one real 1+2 kind cluster
// (kind-configs/two-workers.yaml) made with `faultline cluster up`:
// - `faultline run registry-outage-broken-fallback registry-outage-working-fallback --cluster NAME`: the broken
//   variant shows lasting ImagePullBackOff that the registry-mirror detector explains (mirror down, the
//   override_path fallback answering 404, the circular dependency) and the runbook fixes; the working variant
//   recovers on its own (detect/diagnose/remediate skipped, verify passes) on a node other than the drained one.
// - a run of the broken variant killed with SIGKILL while the fault is applied; `faultline recover` undoes it.
// - the broken variant again, with the cluster addressed only by its context (`--context kind-… --allow-context
//   kind-…`, a state dir with no record of it) and Docker and kind out of faultline's reach: every node's hosts.toml
//   is written, read and put back through agent pods, and the upstream is a registry that exists already (the test
//   starts it, as a team's own registry would be there; `--fault-param registry-upstream.existing=true`).
// After each: every node's /etc/containerd/certs.d is byte for byte as before, no upstream registry container is
// left, and no node is cordoned. The cluster is deleted in afterAll unless FAULTLINE_KEEP_CLUSTER is set.
import { afterAll, beforeAll, describe, expect, jest, test } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { assertBuilt, e2eTempDir, runCli, startCli, waitFor, waitForSystemPods, type CliProcess, type CliResult, cleanUpClusterUp, expectPassed } from './support.js';

jest.setTimeout(40 * 60_000);

const name = `faultline-e2e-ro-${randomBytes(2).toString('hex')}`;
const tmp = e2eTempDir('ro');
const stateDir = join(tmp, 'state');
const env = { FAULTLINE_STATE_DIR: stateDir };
const reportDir = join(tmp, 'report');
const UPSTREAM_LABEL = 'faultline.upstream-registry';
const EXISTING_UPSTREAM = `${name}-upstream`;
const AGENT_IMAGE = 'docker.io/faultline/node-agent:bookworm';
let created = false;
let nodes: string[] = [];
let before: Record<string, string> = {};
let run: CliResult;
const started: CliProcess[] = [];

function docker(args: string[]): string {
  return execFileSync('docker', args, { encoding: 'utf8' }).trim();
}

/** Every file and folder under the node's certs.d with type, mode and sha256: "restored byte for byte". */
function certsD(node: string): string {
  return docker([
    'exec',
    node,
    'sh',
    '-c',
    'cd /etc/containerd/certs.d && find . -printf "%p %y %m\\n" | sort && find . -type f -print0 | sort -z | xargs -0 -r sha256sum',
  ]);
}

function snapshot(): Record<string, string> {
  return Object.fromEntries(nodes.map((n) => [n, certsD(n)]));
}

function upstreams(): string[] {
  return docker(['ps', '-a', '--filter', `label=${UPSTREAM_LABEL}`, '--format', '{{.Names}} {{.Label "faultline.cluster"}}'])
    .split('\n')
    .filter((l) => l.endsWith(` ${name}`));
}

async function cordoned(): Promise<string[]> {
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(join(stateDir, 'kubeconfigs', `kind-${name}.yaml`));
  const list = await kc.makeApiClient(k8s.CoreV1Api).listNode();
  return list.items.filter((n) => n.spec?.unschedulable).map((n) => n.metadata!.name!);
}

async function expectRestored(): Promise<void> {
  expect(snapshot()).toEqual(before);
  expect(upstreams()).toEqual([]);
  expect(await cordoned()).toEqual([]);
}

beforeAll(async () => {
  assertBuilt();
  const up = await runCli(['cluster', 'up', '--name', name, '--config', 'kind-configs/two-workers.yaml'], env, 15 * 60_000, 'cluster-up');
  if (up.code !== 0) throw new Error(`cluster up failed: ${up.stderr}`);
  created = true;
  // a cluster still settling (kube-proxy or flannel restarting under load) would delay the pods' network, and
  // with it TTD, for reasons that have nothing to do with the registry
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(join(stateDir, 'kubeconfigs', `kind-${name}.yaml`));
  await waitForSystemPods(kc.makeApiClient(k8s.CoreV1Api), ['kube-system', 'kube-flannel', 'local-path-storage'], 6 * 60_000);
  nodes = (await kindNodes()).sort();
  before = snapshot();
  run = await runCli(
    ['run', 'registry-outage-broken-fallback', 'registry-outage-working-fallback', '--cluster', name, '--report-dir', reportDir],
    env,
    30 * 60_000,
    'ro',
  );
});

async function kindNodes(): Promise<string[]> {
  return docker(['ps', '--filter', `label=io.x-k8s.kind.cluster=${name}`, '--format', '{{.Names}}']).split('\n').filter(Boolean);
}

afterAll(() => {
  try {
    docker(['rm', '-f', '-v', EXISTING_UPSTREAM]);
  } catch {
    // never started
  }
  return cleanUpClusterUp({ started, created, name, env, stateDir, tmp, recover: true });
});

describe('registry outage with a mirror fallback, both variants, on a 1+2 kind cluster', () => {
  const scenario = (id: string) => JSON.parse(readFileSync(join(reportDir, 'report.json'), 'utf8')).scenarios.find((s: any) => s.id === id);
  const stages = (sc: any) => Object.fromEntries(sc.stages.map((s: any) => [s.name, s]));

  test('both runs pass', () => {
    expect(nodes).toHaveLength(3);
    expectPassed(run, reportDir);
  });

  test('broken fallback: lasting ImagePullBackOff, explained per node with the circular dependency, fixed by the runbook', () => {
    const sc = scenario('registry-outage-broken-fallback');
    expect(sc.status).toBe('passed');
    const f = sc.findings.find((x: any) => x.detector === 'registry-mirror');
    const text = [f.summary, ...f.evidence].join('\n');
    expect(f.summary).toMatch(/mirror http:\/\/10\.96\.77\.77:5000 down \(connection refused\), no working fallback for docker\.io on nodes /);
    expect(f.summary).toContain('(override_path = true) answers HTTP 404');
    expect(f.summary).toMatch(/circular dependency: the mirror's own image docker\.io\/library\/registry:2/);
    expect(text).toMatch(/ImagePullBackOff docker\.io\//);
    for (const n of nodes) expect(f.summary).toContain(n);
    expect(sc.remediation.mode).toBe('automatic');
    expect(sc.remediation.actions.join('\n')).toMatch(/fallback http:\/\/faultline-docker-io:5000\/v2\/docker\.io -> http:\/\/faultline-docker-io:5000/);
    expect(stages(sc).verify.message).toMatch(/fallback works/);
    expect(sc.ttdSeconds).toBeGreaterThan(0);
    expect(sc.ttdSeconds).toBeLessThan(sc.standardAlert.waitSeconds);
    expect(sc.ttrSeconds).toBeGreaterThan(0);
    console.log(`[registry-outage] broken fallback: TTD ${sc.ttdSeconds}s TTR ${sc.ttrSeconds}s`);
  });

  test('working fallback: every pod recovers on its own, away from the drained node', () => {
    const sc = scenario('registry-outage-working-fallback');
    expect(sc.status).toBe('passed');
    const st = stages(sc);
    for (const s of ['detect', 'diagnose', 'remediate']) {
      expect(st[s].status).toBe('skipped');
      expect(st[s].message).toMatch(/recovery "self"/);
    }
    expect(sc.ttdSeconds).toBeNull();
    expect(sc.remediation).toBeUndefined();
    expect(sc.ttrSeconds).toBeGreaterThan(0);
    expect(st.verify.message).toMatch(/^recovered on its own/);
    // the drain of this scenario (the second "drained" line) and where the pods came back
    const drained = [...run.stderr.matchAll(/drained (\S+): cordoned, evicted mirror-/g)].map((m) => m[1]!);
    expect(drained).toHaveLength(2);
    const podNodes = [...st.verify.message.matchAll(/pod (?:mirror|operator)-\S+ on (\S+): Running, ready/g)].map((m: RegExpMatchArray) => m[1]);
    expect(podNodes).toHaveLength(2);
    for (const n of podNodes) expect(n).not.toBe(drained[1]);
    console.log(`[registry-outage] working fallback: TTR ${sc.ttrSeconds}s (self-healed)`);
  });

  test("after both runs every node's certs.d is byte for byte as before, the upstream is gone, no node cordoned", async () => {
    await expectRestored();
  });

  test('SIGKILL while the broken fallback is applied, then `faultline recover` undoes it all', async () => {
    const p = startCli(['run', 'registry-outage-broken-fallback', '--cluster', name, '--keep'], { ...env, FAULTLINE_TEST_HOLD_AFTER_APPLY_MS: '600000' }, 'ro-kill');
    started.push(p);
    await p.waitForLine(/holding 600000ms after apply/, 15 * 60_000);
    expect(upstreams()).toHaveLength(1);
    expect(await cordoned()).toHaveLength(1);
    expect(snapshot()).not.toEqual(before);
    p.child.kill('SIGKILL');
    await p.exited(60_000);
    expect(upstreams()).toHaveLength(1); // a killed run leaves its fault (and set-up) in place
    const r = await runCli(['recover'], env, 10 * 60_000, 'recover');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/upstream registry container faultline-upstream-\S+ removed/);
    await waitFor('the recovered state', 60_000, async () => {
      await expectRestored();
      return true;
    });
    const again = await runCli(['recover'], env, 5 * 60_000, 'recover-again');
    expect(again.stdout).toMatch(/nothing to recover/);
  });

  test('through agent pods, with the cluster known only by its context and no Docker: the broken fallback passes against an upstream that exists already', async () => {
    // the registry the nodes pull docker.io from is there before faultline runs, under the alias the scenario's
    // hosts.toml and mirror name; the test (not faultline) starts it and pushes the two images the victim pulls
    docker(['run', '-d', '--name', EXISTING_UPSTREAM, '--network', 'kind', '--network-alias', 'faultline-docker-io', '-p', '127.0.0.1::5000', 'registry:2']);
    const port = Number(/:(\d+)$/m.exec(docker(['port', EXISTING_UPSTREAM, '5000/tcp']).split('\n')[0]!)?.[1]);
    await waitFor('the existing upstream', 60_000, async () => (await fetch(`http://127.0.0.1:${port}/v2/`, { signal: AbortSignal.timeout(5000) })).ok);
    for (const [from, as] of [['registry:2', 'library/registry:2'], ['busybox:1.35', 'faultline/operator:v1']] as const) {
      docker(['tag', from, `127.0.0.1:${port}/${as}`]);
      docker(['push', '-q', `127.0.0.1:${port}/${as}`]);
      docker(['rmi', `127.0.0.1:${port}/${as}`]);
    }
    const context = `kind-${name}`;
    const agentState = join(tmp, 'agent-state');
    const agentReport = join(tmp, 'agent-report');
    const agentEnv = { FAULTLINE_STATE_DIR: agentState, KUBECONFIG: join(stateDir, 'kubeconfigs', `${context}.yaml`), FAULTLINE_DOCKER: join(tmp, 'no-docker'), FAULTLINE_KIND: join(tmp, 'no-kind') };
    const args = ['run', 'registry-outage-broken-fallback', '--context', context, '--allow-context', context, '--agent-image', AGENT_IMAGE];
    const r = await runCli([...args, '--fault-param', 'registry-upstream.existing=true', '--report-dir', agentReport], agentEnv, 20 * 60_000, 'ro-agent');
    expect(r.stderr).toContain(`on existing cluster ${context}`);
    expectPassed(r, agentReport);
    const report = JSON.parse(readFileSync(join(agentReport, 'report.json'), 'utf8'));
    const sc = report.scenarios[0];
    console.log(`[registry-outage] broken fallback through agents: TTD ${sc.ttdSeconds}s TTR ${sc.ttrSeconds}s`);
    expect(stages(sc).deploy.message).toMatch(new RegExp(`^node agents \\(${AGENT_IMAGE}, no RBAC of their own\\): ${nodes.map(() => `faultline-agent-[0-9a-f]{6}/agent-\\d on \\S+`).join(', ')}; `));
    expect(r.stderr).toMatch(/existing upstream registry http:\/\/faultline-docker-io:5000 serves library\/registry:2, faultline\/operator:v1/);
    expect(sc.findings.find((x: any) => x.detector === 'registry-mirror').summary).toContain('(override_path = true) answers HTTP 404');
    const journal = JSON.parse(readFileSync(join(agentState, 'journal', `${report.runId}.json`), 'utf8'));
    expect(journal.entries.map((e: any) => e.faultType)).toEqual(expect.arrayContaining(['node-agent', 'registry-upstream', 'registry-mirror-outage']));
    expect(journal.entries.every((e: any) => e.state === 'reverted')).toBe(true);
    expect(journal.entries.find((e: any) => e.faultType === 'registry-upstream').record.container).toBeUndefined();
    await expectRestored();
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(join(stateDir, 'kubeconfigs', `${context}.yaml`));
    const core = kc.makeApiClient(k8s.CoreV1Api);
    expect((await core.listPodForAllNamespaces({ labelSelector: 'faultline/node-agent' })).items.map((p) => p.metadata!.name)).toEqual([]);
    expect((await core.listNamespace()).items.map((n) => n.metadata!.name!).filter((n) => n.startsWith('faultline-agent-'))).toEqual([]);
  });
});
