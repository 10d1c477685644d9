// The restart-loop detector on fixture pods (no cluster): variants of what kills a container, and healthy pods that
// naive detectors flag.
import { describe, expect, test } from '@jest/globals';
import type { V1Container, V1Pod } from '@kubernetes/client-node';
import { analyzeCrashloops } from '../../harness/detectors/crashloop.js';
import { eventInfo, podInfo, type WorkloadSnapshot } from '../../harness/detectors/snapshot.js';

const NOW = '2026-12-01T12:00:00.000Z';
const ago = (s: number) => new Date(Date.parse(NOW) - s * 1000).toISOString();

function pod(name: string, c: Partial<V1Container>, status: Record<string, unknown>, extra: { phase?: string; restartPolicy?: string; startedAgo?: number; owner?: boolean; init?: boolean } = {}): V1Pod {
  const container = { name: 'web', image: 'x', ...c };
  return {
    metadata: { name, namespace: 'team', ...(extra.owner === false ? {} : { ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web-7d9f', uid: 'u', controller: true }] }) },
    spec: { ...(extra.init ? { initContainers: [container], containers: [{ name: 'main', image: 'x' }] } : { containers: [container] }), ...(extra.restartPolicy ? { restartPolicy: extra.restartPolicy } : {}) },
    status: {
      phase: extra.phase ?? 'Running',
      startTime: ago(extra.startedAgo ?? 240),
      conditions: [{ type: 'Ready', status: 'True' }],
      [extra.init ? 'initContainerStatuses' : 'containerStatuses']: [{ name: 'web', image: 'x', imageID: 'x', ...status }],
    },
  } as unknown as V1Pod;
}

function ev(podName: string, reason: string, message: string, count = 3) {
  return eventInfo({ metadata: { namespace: 'team' }, involvedObject: { kind: 'Pod', name: podName, namespace: 'team' }, reason, message, count, type: 'Warning', lastTimestamp: NOW } as never);
}

function scan(pods: V1Pod[], events: ReturnType<typeof ev>[] = []) {
  const s: WorkloadSnapshot = { takenAt: NOW, statefulSets: [], pods: pods.map(podInfo), events };
  return analyzeCrashloops(s);
}

// killed by the kubelet every ~40 s, Running and even ready in between: no CrashLoopBackOff in sight
const killedRecently = { ready: true, restartCount: 5, state: { running: { startedAt: ago(10) } }, lastState: { terminated: { exitCode: 137, reason: 'Error', finishedAt: ago(12) } } };

describe('crashloop: what kills the container', () => {
  test('a liveness probe on a port the container does not declare, killing a Running container every 40 s', () => {
    const p = pod('web-7d9f-a', { ports: [{ containerPort: 8080, name: 'http' }], livenessProbe: { httpGet: { path: '/healthz', port: 8081 as never }, periodSeconds: 10, failureThreshold: 3 } }, killedRecently);
    const [f] = scan([p], [
      ev('web-7d9f-a', 'Unhealthy', 'Liveness probe failed: Get "http://10.244.1.7:8081/healthz": dial tcp 10.244.1.7:8081: connect: connection refused', 14),
      ev('web-7d9f-a', 'Killing', 'Container web failed liveness probe, will be restarted', 5),
    ]);
    expect(f!.summary).toContain('Pod team/web-7d9f-a keeps restarting: web running, restarts 5');
    expect(f!.summary).toContain('(1.3 restarts/min since it started)');
    expect(f!.rootCause).toContain('its liveness probe (httpGet port 8081 /healthz) targets port 8081, which the container does not declare (it declares 8080/http), and nothing listens there (connection refused)');
    expect(f!.rootCause).toContain('to change: spec.template.spec.containers[0].livenessProbe.httpGet.port (now 8081)');
  });

  test('a liveness probe on the right (named) port that times out', () => {
    const p = pod('web-7d9f-b', { ports: [{ containerPort: 8080, name: 'http' }], livenessProbe: { httpGet: { path: '/healthz', port: 'http' as never }, timeoutSeconds: 1 } }, killedRecently);
    const [f] = scan([p], [ev('web-7d9f-b', 'Unhealthy', 'Liveness probe failed: Get "http://10.244.1.7:8080/healthz": context deadline exceeded (Client.Timeout exceeded while awaiting headers)')]);
    expect(f!.rootCause).toContain('gets no answer within its timeout (timeoutSeconds 1)');
    expect(f!.rootCause).toContain('livenessProbe.timeoutSeconds (now 1)');
  });

  test('OOMKilled names the limit against the request, in an init container of a bare pod', () => {
    const p = pod('migrate', { resources: { limits: { memory: '64Mi' }, requests: { memory: '32Mi' } } }, { ready: false, restartCount: 4, state: { waiting: { reason: 'CrashLoopBackOff' } }, lastState: { terminated: { exitCode: 137, reason: 'OOMKilled', finishedAt: ago(30) } } }, { owner: false, init: true });
    const [f] = scan([p]);
    expect(f!.rootCause).toContain('OOMKilled; limit 64Mi, request 32Mi');
    expect(f!.rootCause).toContain('to change: spec.initContainers[0].resources.limits.memory (now 64Mi)');
  });

  test('a startup probe shorter than the start', () => {
    const p = pod('web-7d9f-c', { startupProbe: { httpGet: { path: '/ready', port: 8080 as never }, failureThreshold: 3, periodSeconds: 5 }, ports: [{ containerPort: 8080 }] }, killedRecently);
    const [f] = scan([p], [ev('web-7d9f-c', 'Unhealthy', 'Startup probe failed: HTTP probe failed with statuscode: 503'), ev('web-7d9f-c', 'Killing', 'Container web failed startup probe, will be restarted')]);
    expect(f!.rootCause).toContain('gives it 15 s to start (failureThreshold 3 x period 5 s), and it is killed before it is up: it answers HTTP 503');
    expect(f!.rootCause).toContain('startupProbe.failureThreshold (now 3)');
  });

  test('its own exit: the exit code and the last line it logged', () => {
    const p = podInfo(pod('web-7d9f-d', {}, { ready: false, restartCount: 6, state: { waiting: { reason: 'CrashLoopBackOff' } }, lastState: { terminated: { exitCode: 2, reason: 'Error', finishedAt: ago(20) } } }));
    p.statuses[0]!.lastLog = ['loading config', 'error: /etc/app/config.yaml: no such file'];
    const [f] = analyzeCrashloops({ takenAt: NOW, statefulSets: [], pods: [p], events: [] });
    expect(f!.rootCause).toContain('it exits with code 2 (Error); its last line: "error: /etc/app/config.yaml: no such file"');
    expect(f!.evidence).toContain('web last log: error: /etc/app/config.yaml: no such file');
  });
});

describe('crashloop: quiet on healthy pods', () => {
  test('restarts long ago, finished work, a slow starter inside its startup budget', () => {
    const longAgo = pod('web-7d9f-e', {}, { ready: true, restartCount: 9, state: { running: { startedAt: ago(86_400) } }, lastState: { terminated: { exitCode: 1, finishedAt: ago(86_400) } } }, { startedAgo: 172_800 });
    const done = pod('job-x', {}, { ready: false, restartCount: 3, state: { terminated: { exitCode: 0, reason: 'Completed' } }, lastState: { terminated: { exitCode: 1, finishedAt: ago(60) } } }, { phase: 'Succeeded', restartPolicy: 'OnFailure' });
    const slow = pod('web-7d9f-f', { startupProbe: { httpGet: { port: 8080 as never }, failureThreshold: 30, periodSeconds: 10 } }, { ready: false, restartCount: 0, started: false, state: { running: { startedAt: ago(40) } } }, { startedAgo: 40 });
    expect(scan([longAgo, done, slow], [ev('web-7d9f-f', 'Unhealthy', 'Startup probe failed: connection refused', 4)])).toEqual([]);
  });

  test('a loop that has ended: three recent exits while the API server restarted, up five minutes since', () => {
    // kube-controller-manager after a control-plane certificate renewal: its last instance ran 90 s
    const ended = { ready: true, restartCount: 3, state: { running: { startedAt: ago(300) } }, lastState: { terminated: { exitCode: 1, reason: 'Error', startedAt: ago(392), finishedAt: ago(302) } } };
    expect(scan([pod('kcm', {}, ended, { startedAgo: 480 })])).toEqual([]);
    // the same numbers, but not ready, or up no longer than its last instance lasted: still a loop
    expect(scan([pod('kcm-not-ready', {}, { ...ended, ready: false }, { startedAgo: 480 })])).toHaveLength(1);
    const again = { ...ended, state: { running: { startedAt: ago(100) } }, lastState: { terminated: { exitCode: 1, reason: 'Error', startedAt: ago(192), finishedAt: ago(102) } } };
    expect(scan([pod('kcm-again', {}, again, { startedAgo: 480 })])).toHaveLength(1);
    // a leak that takes four minutes to reach its limit, up three minutes now: the loop goes on
    const leak = { ready: true, restartCount: 4, state: { running: { startedAt: ago(180) } }, lastState: { terminated: { exitCode: 137, reason: 'OOMKilled', startedAt: ago(425), finishedAt: ago(182) } } };
    expect(scan([pod('leaky', {}, leak, { startedAgo: 1200 })])).toHaveLength(1);
  });
});
