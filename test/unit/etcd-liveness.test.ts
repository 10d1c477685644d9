// etcd-liveness-restarts and the etcd-liveness-probe fault/runbook: pure parts on fixtures (no cluster).
import { describe, expect, test } from '@jest/globals';
import {
  analyzeEtcdLiveness,
  latestStart,
  parseContainerLogs,
  parseKubeletJournal,
  parseManifestProbe,
  parseTerminated,
  probeEndpointMismatch,
  probeGist,
  type EtcdNodeLiveness,
} from '../../harness/detectors/etcd-liveness-analysis.js';
import { parseNodeOutput, withEndpoint } from '../../harness/detectors/etcd-liveness-collect.js';
import { shQuote } from '../../harness/cluster/node-access.js';
import { brokenProbe, LivenessProbeParams, livenessProbeOf, restoredPodState, samePod, withLivenessProbe } from '../../harness/faults/etcd-liveness-probe.js';
import { sha256Hex as sha256 } from '../../harness/cluster/node-files.js';
import { isKubeadmLikeProbe, KUBEADM_ETCD_LIVENESS, probeFailuresSince, probeWindowSeconds, runsFromManifest } from '../../harness/runbooks/etcd-liveness-probe.js';
import type { RunContext } from '../../harness/cluster/context.js';
import { builtinDetectors } from '../../harness/detectors/registry.js';
import { ETCD_MANIFEST, PROBE_OUTPUT, TERMINATED_LINE } from './fixtures/etcd.js';

const NOW = '2026-11-21T05:34:00.000Z';
const params = LivenessProbeParams.parse({});
const BROKEN = withLivenessProbe(ETCD_MANIFEST, brokenProbe(params));
const POD = 'kube-system_etcd-cp-1_f859d07442f93b8902f153db142d8458';

function node(over: Partial<EtcdNodeLiveness> = {}): EtcdNodeLiveness {
  const { probe, clientUrls } = parseManifestProbe(BROKEN);
  return {
    node: 'cp-1',
    containers: [
      { pod: POD, attempt: 2, startedAt: '2026-11-21T05:33:16.07Z' },
      { pod: POD, attempt: 3, startedAt: '2026-11-21T05:33:50.00Z' },
    ],
    terminated: parseTerminated([TERMINATED_LINE]),
    probeFailures: [{ at: '2026-11-21T05:33:58.5Z', text: `Liveness probe failed: ${probeGist(PROBE_OUTPUT)}`, source: 'event', count: 1 }],
    kills: [{ at: '2026-11-21T05:33:08.6Z', text: 'Container etcd failed liveness probe, will be restarted', source: 'event', count: 3 }],
    health: '{"health":"true","reason":""}',
    ...(probe ? { probe } : {}),
    clientUrls,
    ...over,
  };
}

describe('etcd-liveness-probe fault (manifest edit)', () => {
  test('replaces only the etcd liveness probe; the rest of the manifest is kept', () => {
    const probe = livenessProbeOf(BROKEN) as any;
    expect(probe.exec.command).toEqual(expect.arrayContaining(['etcdctl', '--endpoints=https://127.0.0.1:2380', 'get', 'foo']));
    expect(probe.failureThreshold).toBe(3);
    expect(probe.periodSeconds).toBe(5);
    expect(BROKEN).toContain('--listen-client-urls=https://127.0.0.1:2379,https://172.18.0.3:2379');
    expect(BROKEN).toContain('probe-port');
    expect(sha256(BROKEN)).not.toBe(sha256(ETCD_MANIFEST));
  });

  test("the runbook's kubeadm probe is recognised; the broken one is not", () => {
    expect(isKubeadmLikeProbe(livenessProbeOf(ETCD_MANIFEST))).toBe(true);
    expect(isKubeadmLikeProbe(livenessProbeOf(BROKEN))).toBe(false);
    const fixed = withLivenessProbe(BROKEN, KUBEADM_ETCD_LIVENESS);
    expect(livenessProbeOf(fixed)).toEqual(livenessProbeOf(ETCD_MANIFEST));
    // the kubelet sees the fixed manifest as kubeadm's pod: restoring kubeadm's bytes afterwards restarts nothing
    expect(samePod(fixed, ETCD_MANIFEST)).toBe(true);
    expect(samePod(BROKEN, ETCD_MANIFEST)).toBe(false);
  });

  test('the endpoint mismatch is named', () => {
    const { probe, clientUrls } = parseManifestProbe(BROKEN);
    expect(probeEndpointMismatch(probe, clientUrls)).toMatch(/--endpoints https:\/\/127\.0\.0\.1:2380 is not one of etcd's client URLs/);
    const ok = withLivenessProbe(ETCD_MANIFEST, brokenProbe({ ...params, endpoint: 'https://[127.0.0.1]:2379' }));
    const p2 = parseManifestProbe(ok);
    expect(probeEndpointMismatch(p2.probe, p2.clientUrls)).toBeUndefined();
  });
});

describe('etcd-liveness-restarts analysis', () => {
  test('kills by the probe while /health is true: the probe is wrong, etcd is healthy', () => {
    const [f, ...rest] = analyzeEtcdLiveness({ kind: 'etcd-liveness', takenAt: NOW, nodes: [node()] });
    expect(rest).toEqual([]);
    expect(f!.resources[0]).toBe('kube-system/Pod/etcd-cp-1');
    expect(f!.runbook).toBe('etcd-liveness-probe');
    expect(f!.summary).toContain('restarts 3');
    expect(f!.summary).toContain('the probe is wrong, etcd is healthy');
    const text = [f!.summary, ...f!.evidence].join('\n');
    expect(text).toContain('Liveness probe failed: Error: context deadline exceeded (dial tcp 127.0.0.1:2380: connect: connection refused)');
    expect(text).toContain('failed liveness probe, will be restarted x3');
    expect(text).toContain('etcd log: "received signal; shutting down (signal terminated)"');
  });

  test('healthy cluster (no kills, no failures) is quiet; so is a fixed probe after old kills', () => {
    const healthy = node({ containers: [{ pod: POD, attempt: 0, startedAt: '2026-11-21T05:20:00Z' }], terminated: [], probeFailures: [], kills: [] });
    expect(analyzeEtcdLiveness({ kind: 'etcd-liveness', takenAt: NOW, nodes: [healthy] })).toEqual([]);
    // fixed: a new pod started after the last failure; old kills in the window no longer count
    const fixed = node({ containers: [{ pod: 'kube-system_etcd-cp-1_new', attempt: 0, startedAt: '2026-11-21T05:33:59Z' }] });
    expect(analyzeEtcdLiveness({ kind: 'etcd-liveness', takenAt: NOW, nodes: [fixed] })).toEqual([]);
  });

  test('a failure seen by running the probe by hand counts while the API (events) is down', () => {
    const n = node({ probeFailures: [], kills: [], byHand: { exitCode: 1, output: PROBE_OUTPUT, at: NOW } });
    const [f] = analyzeEtcdLiveness({ kind: 'etcd-liveness', takenAt: NOW, nodes: [n] });
    expect(f!.evidence.join('\n')).toContain('Liveness probe failed when run by hand in the etcd container (exit 1): Error: context deadline exceeded');
  });

  describe('before the first kill', () => {
    // the manifest change's new pod, running since 05:33:40, never restarted; the probe has begun to fail
    const fresh = (over: Partial<EtcdNodeLiveness> = {}) =>
      node({
        containers: [{ pod: 'kube-system_etcd-cp-1_new', attempt: 0, startedAt: '2026-11-21T05:33:40Z' }],
        terminated: [],
        kills: [],
        probeFailures: [{ at: '2026-11-21T05:33:55Z', text: `Liveness probe failed: ${probeGist(PROBE_OUTPUT)}`, source: 'kubelet-journal', count: 1 }],
        byHand: { exitCode: 1, output: PROBE_OUTPUT, at: NOW },
        clientRead: { endpoint: 'https://127.0.0.1:2379', exitCode: 0 },
        ...over,
      });
    const scan = (n: EtcdNodeLiveness) => analyzeEtcdLiveness({ kind: 'etcd-liveness', takenAt: NOW, nodes: [n] });

    test('the probe fails, fails by hand, and the same read at etcd\'s client URL works: named before any kill', () => {
      const [f] = scan(fresh());
      expect(f!.summary).toContain('is about to be killed by its liveness probe: Liveness probe failed x1 on the running container (the kubelet kills it at 3)');
      expect(f!.summary).toContain('the probe is wrong, etcd is healthy');
      expect(f!.evidence).toContain("the probe's command against etcd's client URL https://127.0.0.1:2379: the read succeeds (etcd serves reads)");
      expect(f!.rootCause).toMatch(/--endpoints https:\/\/127\.0\.0\.1:2380 is not one of etcd's client URLs/);
    });

    test('a probe failing for another reason (no endpoint to compare) counts from its second failure', () => {
      const two = [{ at: '2026-11-21T05:33:50Z', text: 'Liveness probe failed: x', source: 'kubelet-journal' as const, count: 1 }, { at: '2026-11-21T05:33:55Z', text: 'Liveness probe failed: x', source: 'kubelet-journal' as const, count: 1 }];
      const { clientRead: _, ...noRead } = fresh();
      expect(scan({ ...noRead, probeFailures: two.slice(1) })).toEqual([]);
      expect(scan({ ...noRead, probeFailures: two })).toHaveLength(1);
    });

    test('quiet when etcd itself is unhealthy, when the probe passes by hand, or when the failures were the old pod\'s', () => {
      expect(scan(fresh({ health: '{"health":"false","reason":"RAFT NO LEADER"}' }))).toEqual([]);
      expect(scan(fresh({ byHand: { exitCode: 0, output: 'foo', at: NOW } }))).toEqual([]);
      // the old pod's failures, and the probe now passes by hand (fixed)
      expect(scan(fresh({ probeFailures: [{ at: '2026-11-21T05:33:30Z', text: 'Liveness probe failed: x', source: 'kubelet-journal', count: 2 }], byHand: { exitCode: 0, output: 'foo', at: NOW } }))).toEqual([]);
    });

    test('no kubelet failure yet: the probe failing by hand while the same read at the client URL is served names it', () => {
      const [f] = scan(fresh({ probeFailures: [] }));
      expect(f!.summary).toContain('the probe fails when run by hand in the running container (the kubelet kills it after 3 failures)');
      // without the served read, the by-hand failure alone is not enough (etcd may just be slow to answer)
      const { clientRead: _, ...noRead } = fresh({ probeFailures: [] });
      expect(scan(noRead)).toEqual([]);
    });
  });

  test('withEndpoint swaps either spelling of --endpoints', () => {
    expect(withEndpoint(['etcdctl', '--endpoints=https://127.0.0.1:2380', 'get', 'foo'], 'https://127.0.0.1:2379')).toEqual(['etcdctl', '--endpoints=https://127.0.0.1:2379', 'get', 'foo']);
    expect(withEndpoint(['etcdctl', '--endpoints', 'a', 'get'], 'b')).toEqual(['etcdctl', '--endpoints', 'b', 'get']);
  });

  test('etcd down right now is reported without claiming it is healthy', () => {
    const n = node({ health: undefined });
    const [f] = analyzeEtcdLiveness({ kind: 'etcd-liveness', takenAt: NOW, nodes: [n] });
    expect(f!.summary).toContain('etcd is down right now');
  });

  test('other snapshot shapes are ignored', () => {
    expect(builtinDetectors().get('etcd-liveness-restarts')!.analyze({ takenAt: NOW, pods: [], statefulSets: [], events: [] })).toEqual([]);
  });
});

describe('node output parsing', () => {
  test('pod log files, etcd terminated lines, kubelet journal, health and manifest', () => {
    const out = [
      `/var/log/pods/${POD}/etcd/2.log 2026-11-21T05:33:16.07Z`,
      `/var/log/pods/${POD}/etcd/3.log 2026-11-21T05:33:50.00Z`,
      '---TERM',
      TERMINATED_LINE,
      '---KUBELET',
      '2026-11-21T05:33:03.6+0000 cp-1 kubelet[561]: I1121 prober.go:116] "Probe failed" probeType="Liveness" pod="kube-system/etcd-cp-1" output="Error: context deadline exceeded\\n"',
      '2026-11-21T05:33:08.6+0000 cp-1 kubelet[561]: I1121 kuberuntime_manager.go:1100] "Message for Container of pod" containerMessage="Container etcd failed liveness probe, will be restarted"',
      '---HEALTH',
      '{"health":"true","reason":""}',
      '---MANIFEST',
      BROKEN,
    ].join('\n');
    const n = parseNodeOutput('cp-1', out);
    expect(n.containers.map((c) => c.attempt)).toEqual([2, 3]);
    expect(n.terminated[0]!.text).toBe('received signal; shutting down (signal terminated)');
    expect(n.probeFailures[0]!.text).toBe('Liveness probe failed: Error: context deadline exceeded');
    expect(n.kills).toHaveLength(1);
    expect(n.health).toContain('"health":"true"');
    expect((n.probe as any).exec.command[1]).toBe('--endpoints=https://127.0.0.1:2380');
    expect(parseNodeOutput('cp-1', out.replace('{"health":"true","reason":""}', '#down')).health).toBeUndefined();
  });

  test('older etcd log wording and helpers', () => {
    expect(parseTerminated(['2018-12-04 22:48:46.050580 N | pkg/osutil: received terminated signal, shutting down...'])).toHaveLength(1);
    expect(parseContainerLogs(['/var/log/pods/x/etcd/notanumber.log'])).toEqual([]);
    expect(parseKubeletJournal(['unrelated']).failures).toEqual([]);
    expect(shQuote("it's")).toBe(`'it'\\''s'`);
  });
});

describe('etcd-liveness-probe revert: is etcd back on the restored manifest', () => {
  const ORIGINAL = 'kube-system_etcd-cp-1_aaaa';
  const BROKEN_POD = 'kube-system_etcd-cp-1_bbbb';
  const written = Date.parse('2026-11-21T06:00:00Z');
  const at = (s: number) => new Date(written + s * 1000).toISOString();
  const before = { pod: ORIGINAL, attempt: 0, startedAt: at(-600) };

  test('the original pod started again after the restore: restarted', () => {
    const starts = [before, { pod: BROKEN_POD, attempt: 0, startedAt: at(-30) }, { pod: ORIGINAL, attempt: 0, startedAt: at(50) }];
    expect(restoredPodState(starts, written, written + 60_000, ORIGINAL)).toBe('restarted');
  });

  test('a start from the broken manifest after the restore is not the end: the kubelet has yet to act on the restored file', () => {
    const starts = [before, { pod: BROKEN_POD, attempt: 0, startedAt: at(5) }];
    expect(restoredPodState(starts, written, written + 200_000, ORIGINAL)).toBeUndefined();
    // without the original pod (a journal written before it was recorded) any start after the restore counts
    expect(restoredPodState(starts, written, written + 10_000)).toBe('restarted');
  });

  test('the kubelet never ran the broken manifest: unchanged once the restore has settled, waiting before', () => {
    expect(restoredPodState([before], written, written + 30_000, ORIGINAL)).toBeUndefined();
    expect(restoredPodState([before], written, written + 121_000, ORIGINAL)).toBe('unchanged');
  });

  test('no dated container log yet: waiting', () => {
    expect(restoredPodState([{ pod: ORIGINAL, attempt: 0 }], written, written + 500_000, ORIGINAL)).toBeUndefined();
    expect(latestStart([])).toBeUndefined();
    expect(latestStart([before, { pod: BROKEN_POD, attempt: 1, startedAt: at(-30) }])?.pod).toBe(BROKEN_POD);
  });
});

describe('etcd-liveness-probe verify: is etcd running from the manifest as written', () => {
  const written = Date.parse('2026-11-21T06:00:00Z') / 1000;
  const log = (pod: string, attempt: number, s: number) => `/var/log/pods/${pod}/etcd/${attempt}.log ${new Date((written + s) * 1000).toISOString()}`;
  // null: the node's stat failed (a default argument would turn undefined into `written`)
  const st = (logs: string[], healthy = true, manifestWritten: number | null = written) => ({ logs, healthy, health: '', ...(manifestWritten === null ? {} : { manifestWritten }) });

  test('the newest container started after the write and etcd is healthy: yes', () => {
    expect(runsFromManifest(st([log('kube-system_etcd-cp_a', 3, -40), log('kube-system_etcd-cp_b', 0, 25)]))).toBe(true);
  });

  test('only containers from before the write, or not healthy, or no dated log: not yet', () => {
    expect(runsFromManifest(st([log('kube-system_etcd-cp_a', 3, -40)]))).toBe(false);
    expect(runsFromManifest(st([log('kube-system_etcd-cp_b', 0, 25)], false))).toBe(false);
    expect(runsFromManifest(st(['/var/log/pods/kube-system_etcd-cp_b/etcd/0.log']))).toBe(false);
  });

  test("the manifest's time unknown (stat failed): a healthy etcd is enough", () => {
    expect(runsFromManifest(st([log('kube-system_etcd-cp_a', 3, -40)], true, null))).toBe(true);
  });
});

describe("etcd-liveness-probe verify: the window and the probe's failures", () => {
  test("the window is the probe's initial delay + period + timeout, with the kubelet's defaults for what is unset", () => {
    expect(probeWindowSeconds(KUBEADM_ETCD_LIVENESS)).toBe(35);
    expect(probeWindowSeconds({ exec: { command: ['true'] } })).toBe(11);
    expect(probeWindowSeconds(undefined)).toBe(11);
    expect(probeWindowSeconds({ initialDelaySeconds: 5, periodSeconds: 5, timeoutSeconds: 15 })).toBe(25);
  });

  // a fake events API (no cluster): it returns what the kubelet posted for the node's etcd pod
  const ctxWith = (items: object[], seen: string[] = []) =>
    ({
      kube: {
        core: {
          listNamespacedEvent: async (q: { namespace: string; fieldSelector: string }) => {
            seen.push(`${q.namespace} ${q.fieldSelector}`);
            return { items };
          },
        },
      },
    }) as unknown as RunContext;
  const since = Date.parse('2026-12-06T21:00:00Z');

  test('only "Liveness probe failed" events at or after the start count, with their counts', async () => {
    const seen: string[] = [];
    const r = await probeFailuresSince(
      ctxWith(
        [
          { message: 'Liveness probe failed: context deadline exceeded', lastTimestamp: new Date(since - 5_000), count: 4 },
          { message: 'Liveness probe failed: Get "http://127.0.0.1:2381/livez": connection refused', lastTimestamp: new Date(since + 12_000), count: 2 },
          { message: 'Readiness probe failed: HTTP probe failed with statuscode: 503', lastTimestamp: new Date(since + 13_000), count: 1 },
        ],
        seen,
      ),
      'cp',
      since,
    );
    expect(r).toEqual({ count: 2, last: 'Liveness probe failed: Get "http://127.0.0.1:2381/livez": connection refused' });
    expect(seen).toEqual(['kube-system involvedObject.name=etcd-cp,reason=Unhealthy']);
  });

  test('none since the start: zero', async () => {
    expect(await probeFailuresSince(ctxWith([{ message: 'Liveness probe failed: timeout', lastTimestamp: new Date(since - 1) }]), 'cp', since)).toEqual({ count: 0 });
  });
});
