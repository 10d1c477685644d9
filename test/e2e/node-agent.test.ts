// End to end, node-level faults on a cluster faultline reaches only through its API: the shared single-node kind
// cluster (cluster-pool.ts) addressed as an existing context (`--context kind-… --allow-context kind-…`, a state
// dir with no record of it), with Docker and kind out of faultline's reach (FAULTLINE_DOCKER and FAULTLINE_KIND
// point at files that do not exist). `--agent-image` gives the forged agent image, which faultline's node image
// holds, so the node needs no registry. Each scenario's node-level fault goes in and comes out through agent pods:
// etcd-slow-disk (strace in the agent attached to the node's etcd; then blkio, the node's cgroup file;
// then `faultline inject`, undone by `faultline recover`),
// and etcd-liveness-kill (the etcd static pod manifest on the node). Afterwards no agent pod, no agent namespace,
// no strace and no node file is left. The control-plane certificate scenario, whose fault takes the API server
// down, reaches the node over the agents' channel (mutual TLS on a node port), and so does `faultline recover` after
// that run is killed with SIGKILL. Then an etcd-slow-disk run killed with SIGKILL while its strace and agents are in place:
// `faultline recover` reverts the fault through the same agents and then deletes them. This file itself uses
// docker exec, only to check the node from outside.
import { afterAll, beforeAll, describe, expect, jest, test } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { assertBuilt, e2eTempDir, expectPassed, runCli, startCli, type CliProcess } from './support.js';
import { sharedCluster } from './cluster-pool.js';
import { cacheDir } from '../../harness/core/paths.js';

jest.setTimeout(40 * 60_000);

const shared = sharedCluster('single');
const tmp = e2eTempDir('node-agent');
const { name } = shared;
const NODE = `${name}-control-plane`;
const CONTEXT = `kind-${name}`;
const AGENT_IMAGE = 'docker.io/faultline/node-agent:bookworm';
const MANIFESTS = '/etc/kubernetes/manifests';
const stateDir = join(tmp, 'state');
const started: CliProcess[] = [];
let env: NodeJS.ProcessEnv = {};
let before = '';

function onNode(...argv: string[]): string {
  return execFileSync('docker', ['exec', NODE, ...argv], { encoding: 'utf8' });
}
const manifests = () => onNode('sh', '-c', `sha256sum ${MANIFESTS}/*.yaml`);
const kubectl = (...argv: string[]) => onNode('kubectl', '--kubeconfig', '/etc/kubernetes/admin.conf', ...argv);
/** what agents would leave: their namespaces and pods (faultline's label and the agent's) */
const agentsLeft = () =>
  [...kubectl('get', 'pods', '-A', '-l', 'faultline/node-agent', '-o', 'name').split('\n'), ...kubectl('get', 'ns', '-o', 'name').split('\n').filter((n) => n.startsWith('namespace/faultline-agent-'))]
    .filter(Boolean)
    .join(' ');

/** faultline's halves of agent channels in its state dir (the client key of a set-up that is still open) */
const channelFiles = () => (existsSync(join(stateDir, 'agent-channels')) ? readdirSync(join(stateDir, 'agent-channels')) : []);

/** strace processes on the node (the agent's run in the node's PID namespace) */
const straces = () => onNode('sh', '-c', "ps -eo comm= | grep -x strace || true").trim();

const agentArgs = () => ['--context', CONTEXT, '--allow-context', CONTEXT, '--agent-image', AGENT_IMAGE];

beforeAll(async () => {
  assertBuilt();
  const kubeconfig = await shared.acquire();
  // an existing cluster pulls the victims' images itself; this machine has no registry, so the test (not
  // faultline) puts the one image the scenarios' victims use into the node, as a cluster's registry would
  execFileSync(join(cacheDir(), 'bin', 'current', 'kind'), ['load', 'docker-image', 'docker.io/library/busybox:1.35', '--name', name], { stdio: 'ignore' });
  // faultline's own state dir, with no record of the cluster: to faultline it is somebody's existing cluster
  env = { FAULTLINE_STATE_DIR: stateDir, KUBECONFIG: kubeconfig, FAULTLINE_DOCKER: join(tmp, 'no-docker'), FAULTLINE_KIND: join(tmp, 'no-kind') };
  before = manifests();
});

afterAll(() => shared.release({ started, tmp }));

describe('node-level faults through agent pods, on a cluster addressed only by its context', () => {
  test('etcd-slow-disk (strace) and etcd-liveness-kill pass; every change went in and came out through the agents', async () => {
    const reportDir = join(tmp, 'report');
    const ids = ['etcd-slow-disk', 'etcd-liveness-kill'];
    const r = await runCli(['run', ...ids, ...agentArgs(), '--report-dir', reportDir], env, 40 * 60_000, 'agent-run');
    expect(r.stderr).toContain(`on existing cluster ${CONTEXT}`);
    expectPassed(r, reportDir);
    const report = JSON.parse(readFileSync(join(reportDir, 'report.json'), 'utf8'));
    const byId = Object.fromEntries(report.scenarios.map((sc: any) => [sc.id, sc]));
    for (const id of ids) {
      const sc = byId[id];
      console.log(`[node-agent] ${id} TTD ${sc.ttdSeconds}s TTR ${sc.ttrSeconds}s`);
      expect(sc.stages.find((s: any) => s.name === 'deploy').message).toMatch(new RegExp(`^node agents \\(${AGENT_IMAGE}, no RBAC of their own\\): faultline-agent-[0-9a-f]{6}/agent-1 on ${NODE}; `));
      // the agents are the first set-up, so the last thing reverted
      expect(sc.stages.find((s: any) => s.name === 'revert').message).toMatch(/-setup-1 reverted$/);
    }
    expect(byId['etcd-slow-disk'].findings.find((f: any) => f.detector === 'etcd-disk-latency').summary).toMatch(/WAL fsync p99 [\d.]+ m?s .*backend commit p99/);
    expect(byId['etcd-slow-disk'].remediation.actions.join('\n')).toMatch(/stopped pid \d+ \(\/usr\/bin\/strace /);
    const journal = JSON.parse(readFileSync(join(stateDir, 'journal', `${report.runId}.json`), 'utf8'));
    const faults = journal.entries.filter((e: any) => !['node-agent', 'victim-namespace'].includes(e.faultType));
    expect(faults.map((e: any) => `${e.faultType} ${e.state}`)).toEqual(['etcd-fsync-delay reverted', 'etcd-liveness-probe reverted']);
    expect(journal.entries.every((e: any) => e.state === 'reverted')).toBe(true);
    // strace ran in the agent, on the node's etcd (its PID in the node's namespace)
    expect(faults[0].record).toMatchObject({ mechanism: 'strace', node: NODE, straceOut: expect.stringMatching(/^\/tmp\/faultline-etcd-fsync-/) });
    // the agents ran on the node under faultline's label, in a namespace of their own, with the forged image
    const agents = journal.entries.filter((e: any) => e.faultType === 'node-agent').map((e: any) => e.record);
    expect(agents).toHaveLength(2);
    expect(agents.every((a: any) => a.image === AGENT_IMAGE && a.pods.length === 1 && a.pods[0].node === NODE)).toBe(true);
    expect(manifests()).toBe(before);
    expect(onNode('sh', '-c', 'if [ -e /var/lib/faultline ]; then ls -R /var/lib/faultline; else echo absent; fi').trim()).toBe('absent');
    expect(straces()).toBe('');
    expect(agentsLeft()).toBe('');
  });

  test('etcd-slow-disk with mechanism=blkio: the node\'s cgroup file written through the agent, and put back', async () => {
    const reportDir = join(tmp, 'blkio');
    const r = await runCli(['run', 'etcd-slow-disk', ...agentArgs(), '--fault-param', 'mechanism=blkio', '--report-dir', reportDir], env, 20 * 60_000, 'agent-blkio');
    expectPassed(r, reportDir);
    const report = JSON.parse(readFileSync(join(reportDir, 'report.json'), 'utf8'));
    const sc = report.scenarios[0];
    console.log(`[node-agent] etcd-slow-disk (blkio) TTD ${sc.ttdSeconds}s TTR ${sc.ttrSeconds}s`);
    expect(sc.remediation.actions.join('\n')).toMatch(/removed the 10 IOPS write limit on \d+:\d+ from its cgroup/);
    const journal = JSON.parse(readFileSync(join(stateDir, 'journal', `${report.runId}.json`), 'utf8'));
    const fault = journal.entries.find((e: any) => e.faultType === 'etcd-fsync-delay');
    expect(fault.record.cgroup.dir).toMatch(/^\/host\/sys\/fs\/cgroup\/blkio\//);
    expect(journal.entries.every((e: any) => e.state === 'reverted')).toBe(true);
    expect(agentsLeft()).toBe('');
  });

  test('inject through agents leaves the fault and its agent in place; recover --run reverts the fault, then deletes the agent', async () => {
    const inj = await runCli(['inject', 'etcd-slow-disk', ...agentArgs()], env, 5 * 60_000, 'agent-inject');
    expect(inj.code).toBe(0);
    const runId = inj.stdout.trim();
    expect(inj.stderr).toMatch(/node agents running \(docker\.io\/faultline\/node-agent:bookworm\): faultline-agent-[0-9a-f]{6}\/agent-1 on /);
    expect(straces()).not.toBe('');
    expect(agentsLeft()).not.toBe('');
    const rec = await runCli(['recover', '--run', runId, '--allow-context', CONTEXT], env, 5 * 60_000, 'agent-inject-recover');
    expect(rec.code).toBe(0);
    expect(rec.stdout).toMatch(/reverted etcd-slow-disk-1: /);
    expect(rec.stdout).toMatch(/reverted etcd-slow-disk-setup-1: node agents /);
    expect(straces()).toBe('');
    expect(agentsLeft()).toBe('');
  });

  // the fault takes the API server down until the runbook acts on the node: detect, diagnose, remediate and the
  // fault's revert reach the node over the agents' own channel (mutual TLS on a node port), not the API's exec
  test('stale-certs-control-plane passes through the agents\' channel while the API server is down; no key is left anywhere', async () => {
    const certs = () => onNode('sh', '-c', 'sha256sum /etc/kubernetes/pki/apiserver-etcd-client.*');
    const certsBefore = certs();
    const reportDir = join(tmp, 'certs');
    const r = await runCli(['run', 'stale-certs-control-plane', ...agentArgs(), '--report-dir', reportDir], env, 15 * 60_000, 'agent-certs');
    expectPassed(r, reportDir);
    const report = JSON.parse(readFileSync(join(reportDir, 'report.json'), 'utf8'));
    const sc = report.scenarios[0];
    console.log(`[node-agent] stale-certs-control-plane through the channel: TTD ${sc.ttdSeconds}s TTR ${sc.ttrSeconds}s`);
    expect(sc.stages.find((s: any) => s.name === 'deploy').message).toMatch(new RegExp(`^node agents \\(${AGENT_IMAGE}, no RBAC of their own\\): faultline-agent-[0-9a-f]{6}/agent-1 on ${NODE}; channel without the API: mutual TLS on port \\d+ of [\\d.]+; `));
    expect(sc.findings.find((f: any) => f.detector === 'control-plane-certs').evidence.join('\n')).toMatch(/alert certificate expired/);
    const journal = readFileSync(join(stateDir, 'journal', `${report.runId}.json`), 'utf8');
    expect(JSON.parse(journal).entries.find((e: any) => e.faultType === 'node-agent').record.channel).toEqual({ port: expect.any(Number), addresses: { [NODE]: expect.stringMatching(/^[\d.]+$/) }, roles: { [NODE]: ['control-plane'] } });
    for (const text of [journal, r.stdout, r.stderr, readFileSync(join(reportDir, 'report.json'), 'utf8')]) expect(text).not.toMatch(/PRIVATE KEY/);
    expect(channelFiles()).toEqual([]);
    expect(certs()).toBe(certsBefore);
    expect(agentsLeft()).toBe('');
  });

  test('SIGKILL with the certificate expired and the API server down: recover reverts it over the channel, then deletes the agents', async () => {
    const certsBefore = onNode('sh', '-c', 'sha256sum /etc/kubernetes/pki/apiserver-etcd-client.*');
    const run = startCli(['run', 'stale-certs-control-plane', ...agentArgs()], { ...env, FAULTLINE_TEST_HOLD_AFTER_APPLY_MS: '600000' }, 'agent-certs-sigkill');
    started.push(run);
    await run.waitForLine(/^faultline: holding 600000ms after apply/, 10 * 60_000);
    run.child.kill('SIGKILL');
    expect((await run.exited(60_000)).signal).toBe('SIGKILL');
    expect(channelFiles()).toHaveLength(1);
    const rec = await runCli(['recover', '--allow-context', CONTEXT], env, 10 * 60_000, 'agent-certs-recover');
    expect(rec.code).toBe(0);
    expect(rec.stdout).toMatch(/reverted stale-certs-control-plane-\d+: \/etc\/kubernetes\/pki\/apiserver-etcd-client\.crt .* restored/);
    expect(rec.stdout).toMatch(/reverted stale-certs-control-plane-setup-1: node agents /);
    expect(onNode('sh', '-c', 'sha256sum /etc/kubernetes/pki/apiserver-etcd-client.*')).toBe(certsBefore);
    expect(channelFiles()).toEqual([]);
    expect(agentsLeft()).toBe('');
  });

  // slow-disk rather than the liveness probe: its strace outlives the killed run on the node, which is what recover
  // must find through the agent; the liveness probe's revert through agents, API server away, is the first test's
  test('SIGKILL with the fault and its agent in place: recover reverts the fault through the agent, then deletes it', async () => {
    const run = startCli(['run', 'etcd-slow-disk', ...agentArgs()], { ...env, FAULTLINE_TEST_HOLD_AFTER_APPLY_MS: '600000' }, 'agent-sigkill');
    started.push(run);
    await run.waitForLine(/^faultline: holding 600000ms after apply/, 10 * 60_000);
    expect(straces()).not.toBe('');
    run.child.kill('SIGKILL');
    expect((await run.exited(60_000)).signal).toBe('SIGKILL');
    expect(straces()).not.toBe('');
    expect(kubectl('get', 'pods', '-A', '-l', 'faultline/node-agent', '-o', 'name').trim()).not.toBe('');

    const rec = await runCli(['recover', '--allow-context', CONTEXT], env, 10 * 60_000, 'agent-recover');
    console.log(`[node-agent] recover exited ${rec.code}:\n${rec.stdout}`);
    expect(rec.code).toBe(0);
    expect(rec.stdout).toMatch(/reverted etcd-slow-disk-\d+: /);
    expect(rec.stdout).toMatch(/reverted etcd-slow-disk-setup-1: node agents \S+\/agent-1 \(/);
    expect(rec.stdout.indexOf('setup-1')).toBeGreaterThan(rec.stdout.search(/reverted etcd-slow-disk-\d+:/));
    expect(straces()).toBe('');
    expect(manifests()).toBe(before);
    expect(agentsLeft()).toBe('');
    const again = await runCli(['recover', '--allow-context', CONTEXT], env, 2 * 60_000, 'agent-recover-2');
    expect(again.stdout).toBe('nothing to recover\n');
  });
});
