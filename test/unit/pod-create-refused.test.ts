// pod-create-refused (pure analysis on fixtures), the psa-cluster-default fault's manifest edit and config (pure),
// and the pod-create-refused runbook's decision. No cluster: the real refusal is the e2e suite's.
import { describe, expect, test } from '@jest/globals';
import { analyzePodCreate, parseRefusal, type PodCreateSnapshot, type WorkloadShort } from '../../harness/detectors/pod-create-analysis.js';
import { hostPathOf, podSecurityDefaults } from '../../harness/detectors/pod-create-refused.js';
import type { EventInfo } from '../../harness/detectors/snapshot.js';
import { admissionConfig, withAdmissionConfig, ADMISSION_FILE, PsaDefaultParams } from '../../harness/faults/psa-cluster-default.js';
import { podCreateRefusedRunbook } from '../../harness/runbooks/pod-create-refused.js';
import { parseDocument } from 'yaml';

const NOW = '2026-12-01T12:00:00.000Z';
const PSA = (pod: string) =>
  `Error creating: pods "${pod}" is forbidden: violates PodSecurity "restricted:latest": allowPrivilegeEscalation != false (container "app" must set securityContext.allowPrivilegeEscalation=false), unrestricted capabilities (container "app" must set securityContext.capabilities.drop=["ALL"]), runAsNonRoot != true (pod or container "app" must set securityContext.runAsNonRoot=true), seccompProfile (pod or container "app" must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")`;

function ev(kind: string, name: string, message: string, over: Partial<EventInfo> = {}): EventInfo {
  return { namespace: 'team', involvedKind: kind, involvedName: name, reason: 'FailedCreate', message, source: 'replicaset-controller', count: 4, type: 'Warning', lastSeen: '2026-12-01T11:59:30Z', ...over };
}
const rs: WorkloadShort = { namespace: 'team', kind: 'ReplicaSet', name: 'web-7d9f', wants: 2, has: 0, owner: { kind: 'Deployment', name: 'web' } };
function snap(over: Partial<PodCreateSnapshot> = {}): PodCreateSnapshot {
  return {
    kind: 'pod-create',
    takenAt: NOW,
    events: [ev('ReplicaSet', 'web-7d9f', PSA('web-7d9f-abcde'))],
    namespaces: [{ name: 'team', labels: { 'kubernetes.io/metadata.name': 'team' } }],
    workloads: [rs],
    defaults: [{ node: 'cp', configFile: ADMISSION_FILE, enforce: 'restricted', enforceVersion: 'latest', exemptNamespaces: ['kube-system'] }],
    ...over,
  };
}

describe('parseRefusal', () => {
  test('PodSecurity with each violation and the field it names; policies; webhooks that deny or cannot be called', () => {
    const r = parseRefusal(PSA('x'));
    expect(r).toMatchObject({ by: 'pod-security', level: 'restricted:latest' });
    expect(r?.by === 'pod-security' && r.violations.map((v) => v.check)).toEqual(['allowPrivilegeEscalation != false', 'unrestricted capabilities', 'runAsNonRoot != true', 'seccompProfile']);
    expect(parseRefusal("pods \"x\" is forbidden: ValidatingAdmissionPolicy 'team-label' with binding 'team-label-b' denied request: needs a team")).toEqual({ by: 'policy', policy: 'team-label', binding: 'team-label-b', message: 'needs a team' });
    expect(parseRefusal('admission webhook "policy.example.com" denied the request: image not signed')).toMatchObject({ by: 'webhook', webhook: 'policy.example.com', unreachable: false });
    expect(parseRefusal('Internal error occurred: failed calling webhook "validator.longhorn.io": failed to call webhook: Post "https://x:9502": connect: connection refused')).toMatchObject({ by: 'webhook', unreachable: true });
    expect(parseRefusal('Error creating: pods "x" is forbidden: exceeded quota: compute')).toBeUndefined();
  });

  test('a quota the controller has not counted yet refuses pods too, and is named', () => {
    const r = parseRefusal('Error creating: pods "q-7d-x" is forbidden: status unknown for quota: pod-count, resources: pods');
    expect(r).toEqual({ by: 'quota', quota: 'pod-count', message: 'its usage is not counted yet (pods); the quota controller has not synced it' });
  });
});

describe('pod-create-refused analysis', () => {
  test('PodSecurity from the cluster-wide default: the Deployment, the violations, where the level comes from, what to change', () => {
    const [f, ...rest] = analyzePodCreate(snap());
    expect(rest).toEqual([]);
    expect(f!.resources).toEqual(['team/Deployment/web', 'team/ReplicaSet/web-7d9f']);
    expect(f!.summary).toContain('Deployment team/web cannot create pods (0/2): PodSecurity "restricted:latest" refuses them');
    expect(f!.summary).toContain(`namespace team has no pod-security.kubernetes.io/enforce label, so the cluster-wide default applies: defaults.enforce "restricted" in ${ADMISSION_FILE} on cp`);
    expect(f!.rootCause).toContain('label namespace team pod-security.kubernetes.io/enforce=<the level its workloads meet>');
    expect(f!.evidence).toContain('violation runAsNonRoot != true: pod or container "app" must set securityContext.runAsNonRoot=true');
  });

  test('the level from the namespace label is named as such', () => {
    const [f] = analyzePodCreate(snap({ namespaces: [{ name: 'team', labels: { 'pod-security.kubernetes.io/enforce': 'restricted' } }] }));
    expect(f!.summary).toContain('namespace team is labelled pod-security.kubernetes.io/enforce=restricted');
  });

  test('other controllers and sources: a StatefulSet refused by a policy, a Job by a webhook that cannot be called, a DaemonSet', () => {
    const s = snap({
      events: [
        ev('StatefulSet', 'db', "create Pod db-0 in StatefulSet db failed error: pods \"db-0\" is forbidden: ValidatingAdmissionPolicy 'team-label' with binding 'b' denied request: needs a team", { source: 'statefulset-controller' }),
        ev('Job', 'backup-123', 'Error creating: Internal error occurred: failed calling webhook "validator.example.com": failed to call webhook: Post "https://v:443": connection refused', { source: 'job-controller' }),
        ev('DaemonSet', 'agent', PSA('agent-x'), { source: 'daemonset-controller' }),
      ],
      workloads: [
        { namespace: 'team', kind: 'StatefulSet', name: 'db', wants: 1, has: 0 },
        { namespace: 'team', kind: 'Job', name: 'backup-123', wants: 1, has: 0, owner: { kind: 'CronJob', name: 'backup' } },
        { namespace: 'team', kind: 'DaemonSet', name: 'agent', wants: 3, has: 1 },
      ],
    });
    const fs = analyzePodCreate(s);
    expect(fs.map((f) => f.resources[0])).toEqual(['team/StatefulSet/db', 'team/CronJob/backup', 'team/DaemonSet/agent']);
    expect(fs[0]!.summary).toContain('ValidatingAdmissionPolicy team-label (binding b) denies them: needs a team');
    expect(fs[1]!.summary).toContain('the admission webhook validator.example.com cannot be called');
    expect(fs[1]!.rootCause).toContain("bring the webhook validator.example.com's backend back");
    expect(fs[2]!.summary).toContain('DaemonSet team/agent cannot create pods (1/3)');
  });

  test('beyond admission: an invalid template in an init container, a quota, a LimitRange, a missing service account', () => {
    const invalid = 'create Pod db-0 in StatefulSet db failed error: Pod "db-0" is invalid: spec.initContainers[0].env[1].valueFrom: Invalid value: "": may not be specified when `value` is not empty';
    const s = snap({
      events: [
        ev('StatefulSet', 'db', invalid, { source: 'statefulset-controller' }),
        ev('ReplicaSet', 'api-1', 'Error creating: pods "api-1-x" is forbidden: exceeded quota: compute, requested: limits.cpu=2, used: limits.cpu=0, limited: limits.cpu=1'),
        ev('ReplicaSet', 'big-1', 'Error creating: pods "big-1-x" is forbidden: maximum cpu usage per Container is 500m, but limit is 2'),
        ev('ReplicaSet', 'bot-1', 'Error creating: pods "bot-1-x" is forbidden: error looking up service account team/robot: serviceaccount "robot" not found'),
      ],
      workloads: [
        { namespace: 'team', kind: 'StatefulSet', name: 'db', wants: 1, has: 0 },
        { namespace: 'team', kind: 'ReplicaSet', name: 'api-1', wants: 1, has: 0, owner: { kind: 'Deployment', name: 'api' } },
        { namespace: 'team', kind: 'ReplicaSet', name: 'big-1', wants: 1, has: 0, owner: { kind: 'Deployment', name: 'big' } },
        { namespace: 'team', kind: 'ReplicaSet', name: 'bot-1', wants: 1, has: 0, owner: { kind: 'Deployment', name: 'bot' } },
      ],
    });
    const [db, api, big, bot] = analyzePodCreate(s);
    expect(db!.summary).toContain('StatefulSet team/db cannot create pods (0/1): the API rejects its pod template: spec.template.spec.initContainers[0].env[1].valueFrom: may not be specified when `value` is not empty');
    expect(api!.rootCause).toContain('raise ResourceQuota compute in team');
    expect(big!.summary).toContain('a LimitRange refuses them: maximum cpu usage per Container is 500m, but limit is 2');
    expect(bot!.rootCause).toContain('create service account team/robot');
  });

  test('quiet: a workload that has its pods (the refusal is history), old events, refusals that are not admission', () => {
    expect(analyzePodCreate(snap({ workloads: [{ ...rs, has: 2 }] }))).toEqual([]);
    expect(analyzePodCreate(snap({ events: [ev('ReplicaSet', 'web-7d9f', PSA('p'), { lastSeen: '2026-12-01T11:30:00Z' })] }))).toEqual([]);
    expect(analyzePodCreate(snap({ events: [ev('ReplicaSet', 'web-7d9f', 'Error creating: pods "p" is forbidden: exceeded quota: compute')] }))).toEqual([]);
    expect(analyzePodCreate(snap({ events: [] }))).toEqual([]);
  });
});

describe('reading the API server admission configuration', () => {
  const manifest = withAdmissionConfig(`apiVersion: v1
kind: Pod
metadata: {name: kube-apiserver, namespace: kube-system}
spec:
  containers:
    - name: kube-apiserver
      command: [kube-apiserver, --advertise-address=172.18.0.2]
      volumeMounts:
        - {name: k8s-certs, mountPath: /etc/kubernetes/pki, readOnly: true}
  volumes:
    - {name: k8s-certs, hostPath: {path: /etc/kubernetes/pki, type: DirectoryOrCreate}}
`);

  test('the fault adds the flag, the mount and the volume, and keeps the rest; a cluster with its own config is refused', () => {
    const pod = parseDocument(manifest).toJS();
    expect(pod.spec.containers[0].command).toEqual(['kube-apiserver', '--advertise-address=172.18.0.2', `--admission-control-config-file=${ADMISSION_FILE}`]);
    expect(pod.spec.volumes.map((v: any) => v.name)).toEqual(['k8s-certs', 'faultline-admission']);
    expect(() => withAdmissionConfig(manifest)).toThrow(/already has --admission-control-config-file/);
  });

  test('the flag file is found on the node through its hostPath, and its PodSecurity defaults are read', () => {
    expect(hostPathOf(manifest, ADMISSION_FILE)).toBe(ADMISSION_FILE);
    const moved = manifest.replace(`path: ${ADMISSION_FILE.replace(/\/[^/]+$/, '')}`, 'path: /srv/adm');
    expect(hostPathOf(moved, ADMISSION_FILE)).toBe('/srv/adm/pod-security.yaml');
    const d = podSecurityDefaults(admissionConfig(PsaDefaultParams.parse({ namespace: 'x', deployment: 'y' })));
    expect(d).toEqual({ enforce: 'restricted', enforceVersion: 'latest', exemptNamespaces: ['kube-system', 'kube-flannel', 'local-path-storage'] });
  });
});

describe('pod-create-refused runbook', () => {
  const [finding] = analyzePodCreate(snap());
  test('labels the namespace only for PodSecurity from the cluster default, and only when told the intended level', async () => {
    const patched: unknown[] = [];
    const ctx = { kube: { core: { patchNamespace: async (a: unknown) => void patched.push(a) } } } as any;
    const d = await podCreateRefusedRunbook.diagnose(ctx, finding!);
    expect(d.summary).toBe('Deployment team/web: PodSecurity "restricted:latest" from the cluster-wide default refuses its pods');
    expect((await podCreateRefusedRunbook.remediate(ctx, d, { namespace: 'team' })).mode).toBe('manual');
    const res = await podCreateRefusedRunbook.remediate(ctx, d, { namespace: 'team', intendedLevel: 'baseline' });
    expect(res.mode).toBe('automatic');
    expect(patched).toEqual([{ name: 'team', body: { metadata: { labels: { 'pod-security.kubernetes.io/enforce': 'baseline', 'pod-security.kubernetes.io/enforce-version': 'latest' } } } }]);
    const [labelled] = analyzePodCreate(snap({ namespaces: [{ name: 'team', labels: { 'pod-security.kubernetes.io/enforce': 'restricted' } }] }));
    const d2 = await podCreateRefusedRunbook.diagnose(ctx, labelled!);
    expect((await podCreateRefusedRunbook.remediate(ctx, d2, { namespace: 'team', intendedLevel: 'baseline' })).mode).toBe('manual');
  });
});
