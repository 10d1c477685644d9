// The webhook-blocks-deletion pieces without a cluster: admission-webhooks' analysis of dry-run deletion probes
// (fixture snapshots: a backend gone, a backend with ready endpoints whose calls fail, a denial, a URL webhook),
// which rule blocks a probe may test, the blocking-webhook runbook's rule cut and diagnosis, and the fault's
// process scripts, run for real in sh against a process of this host.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { describe, expect, test } from '@jest/globals';
import { classifyRefusal, deleteTargets, ruleText, type DeleteProbe } from '../../harness/detectors/admission-webhook-probe.js';
import { selectorQuery } from '../../harness/cluster/kube.js';
import { analyzeWebhooks, webhookInfo, type WebhookSnapshot } from '../../harness/detectors/admission-webhooks.js';
import { blockingWebhookRunbook, splitResource, withoutResource } from '../../harness/runbooks/blocking-webhook.js';
import { parseTask, signalScript } from '../../harness/faults/webhook-backend-hang.js';

const GROUP = 'storage.example.io';
const webhook = (over: Record<string, unknown> = {}) => ({
  name: `validator.${GROUP}`,
  clientConfig: { service: { namespace: 'storage-system', name: 'storage-webhook' } },
  rules: [
    { operations: ['CREATE', 'UPDATE', 'DELETE'], apiGroups: [GROUP], apiVersions: ['*'], resources: ['volumes'] },
    { operations: ['CREATE', 'DELETE'], apiGroups: [GROUP], apiVersions: ['v1beta1'], resources: ['engines', 'engines/status'] },
  ],
  sideEffects: 'None',
  admissionReviewVersions: ['v1'],
  ...over,
});
const info = (over: Record<string, unknown> = {}) => webhookInfo('ValidatingWebhookConfiguration', 'storage-validator', webhook(over) as never);
const NO_ENDPOINTS = 'HTTP 500: Internal error occurred: failed calling webhook "validator.storage.example.io": failed to call webhook: Post "https://storage-webhook.storage-system.svc:443/validate?timeout=10s": no endpoints available for service "storage-webhook"';
const X509 = 'HTTP 500: Internal error occurred: failed calling webhook "validator.storage.example.io": failed to call webhook: Post "https://storage-webhook.storage-system.svc:443/validate?timeout=10s": tls: failed to verify certificate: x509: certificate signed by unknown authority';
const probe = (message: string | undefined, outcome: DeleteProbe['outcome'] = 'failed', rule = `DELETE volumes.${GROUP}`): DeleteProbe => ({
  kind: 'ValidatingWebhookConfiguration',
  config: 'storage-validator',
  webhook: `validator.${GROUP}`,
  rule,
  object: 'Volume storage-system/pvc-1',
  outcome,
  ...(message ? { message } : {}),
});
const snap = (ready: number, probes: DeleteProbe[], hooks = [info()]): WebhookSnapshot => ({
  kind: 'admission-webhooks',
  webhooks: hooks,
  backends: { 'storage-system/storage-webhook': { exists: true, ready, notReady: ready ? 0 : 1, selector: 'app=storage-webhook' } },
  probes,
});

describe('admission-webhooks with dry-run deletion probes', () => {
  test('a backend with no ready endpoint: the finding names the configuration, the rule and the API error', () => {
    const [f, ...rest] = analyzeWebhooks(snap(0, [probe(NO_ENDPOINTS)]));
    expect(rest).toEqual([]);
    expect(f!.summary).toContain('ValidatingWebhookConfiguration storage-validator');
    expect(f!.summary).toContain(`deleting volumes.${GROUP} is refused`);
    expect(f!.evidence).toContain(`DELETE volumes.${GROUP}: the dry-run deletion of Volume storage-system/pvc-1 is refused: ${NO_ENDPOINTS}`);
    expect(f!.evidence.join('\n')).toContain(`rules CREATE,UPDATE,DELETE volumes.${GROUP}; CREATE,DELETE engines.${GROUP},engines/status.${GROUP}`);
    expect(f!.runbook).toBe('blocking-webhook');
  });

  test('ready endpoints but calls that fail (a TLS error): found only by the probe, with its error', () => {
    const [f, ...rest] = analyzeWebhooks(snap(1, [probe(X509)]));
    expect(rest).toEqual([]);
    expect(f!.severity).toBe('critical');
    expect(f!.summary).toBe(`ValidatingWebhookConfiguration storage-validator: webhook validator.${GROUP} cannot be called; deleting volumes.${GROUP} is refused`);
    expect(f!.rootCause).toContain('Service storage-system/storage-webhook, which has ready endpoints');
    expect(f!.evidence.join('\n')).toContain('x509: certificate signed by unknown authority');
    expect(f!.resources).toEqual(['storage-system/Service/storage-webhook', '/ValidatingWebhookConfiguration/storage-validator']);
  });

  test('a webhook called by URL whose calls time out: a finding on its configuration', () => {
    const timeout = 'HTTP 500: Internal error occurred: failed calling webhook "validator.storage.example.io": failed to call webhook: Post "https://hooks.example.com/v": context deadline exceeded';
    const [f] = analyzeWebhooks(snap(1, [probe(timeout)], [info({ clientConfig: { url: 'https://hooks.example.com/v' } })]));
    expect(f!.rootCause).toContain('at its URL');
    expect(f!.resources).toEqual(['/ValidatingWebhookConfiguration/storage-validator']);
  });

  test('quiet: a denial is the policy working, an allowed dry run is a healthy webhook', () => {
    expect(analyzeWebhooks(snap(1, [probe('HTTP 400: admission webhook "validator.storage.example.io" denied the request: volume is attached', 'denied')]))).toEqual([]);
    expect(analyzeWebhooks(snap(1, [probe(undefined, 'allowed')]))).toEqual([]);
  });

  test('refusals are told apart by what the API says', () => {
    expect(classifyRefusal(NO_ENDPOINTS)).toBe('failed');
    expect(classifyRefusal(X509)).toBe('failed');
    expect(classifyRefusal('HTTP 400: admission webhook "x" denied the request: no')).toBe('denied');
  });

  test('probe targets: DELETE rules of named groups and resources, no subresources, no side effects, not Ignore', () => {
    const t = deleteTargets('ValidatingWebhookConfiguration', 'storage-validator', webhook() as never);
    expect(t.map((x) => `${x.resource}.${x.group}@${x.versions.join(',')}`)).toEqual([`volumes.${GROUP}@*`, `engines.${GROUP}@v1beta1`]);
    expect(deleteTargets('ValidatingWebhookConfiguration', 'c', webhook({ sideEffects: 'Unknown' }) as never)).toEqual([]);
    expect(deleteTargets('ValidatingWebhookConfiguration', 'c', webhook({ failurePolicy: 'Ignore' }) as never)).toEqual([]);
    const wild = webhook({ rules: [{ operations: ['*'], apiGroups: ['*'], apiVersions: ['*'], resources: ['*'] }, { operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'] }] });
    expect(deleteTargets('MutatingWebhookConfiguration', 'c', wild as never)).toEqual([]);
    expect(ruleText(['DELETE'], [''], ['pods'])).toBe('DELETE pods');
    // the probe picks its object in a namespace the webhook sees
    expect(selectorQuery({ matchLabels: { team: 'a' }, matchExpressions: [{ key: 'env', operator: 'In', values: ['x', 'y'] }, { key: 'skip', operator: 'DoesNotExist' }] })).toBe('team=a,env in (x,y),!skip');
    expect(deleteTargets('ValidatingWebhookConfiguration', 'c', webhook({ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'fc-x' } } }) as never)[0]!.namespaces).toBe('kubernetes.io/metadata.name=fc-x');
  });
});

describe('blocking-webhook runbook', () => {
  const rules = webhook().rules;
  test('cutting a resource drops a block that names only it and keeps the others whole', () => {
    expect(withoutResource(rules as never, GROUP, 'volumes')).toEqual([rules[1]]);
    const shared = [{ operations: ['DELETE'], apiGroups: [GROUP], apiVersions: ['*'], resources: ['volumes', 'snapshots'] }];
    expect(withoutResource(shared as never, GROUP, 'volumes')).toEqual([{ ...shared[0], resources: ['snapshots'] }]);
    expect(withoutResource(rules as never, 'other.io', 'volumes')).toEqual(rules);
    expect(splitResource(`volumes.${GROUP}`)).toEqual({ resource: 'volumes', group: GROUP });
    expect(splitResource('pods')).toEqual({ resource: 'pods', group: '' });
  });

  test('diagnosis reads the blocked resources from the finding; without params the fix is a person\'s, told exactly', async () => {
    const [f] = analyzeWebhooks(snap(0, [probe(NO_ENDPOINTS)]));
    const d = await blockingWebhookRunbook.diagnose({} as never, f!);
    expect(d.data).toMatchObject({ kind: 'ValidatingWebhookConfiguration', config: 'storage-validator', blocked: [`volumes.${GROUP}`], service: 'storage-system/storage-webhook' });
    // no cluster is touched on the manual path (an empty context would throw)
    const manual = await blockingWebhookRunbook.remediate({} as never, d, undefined);
    expect(manual.mode).toBe('manual');
    expect(manual.actions[0]).toContain('remove the rule block of the resource that must be deleted now');
    const other = await blockingWebhookRunbook.remediate({} as never, d, { namespace: 'storage-system', config: 'storage-validator', resource: `engines.${GROUP}`, delete: [{ name: 'e' }], backend: { deployment: 'd' } });
    expect(other.mode).toBe('manual');
  });

  test('bad params are refused when the scenario loads', () => {
    expect(blockingWebhookRunbook.verifyParams.safeParse({ namespace: 'n', config: 'c', resource: 'Volumes!', delete: [{ name: 'x' }], backend: { deployment: 'd' } }).success).toBe(false);
    expect(blockingWebhookRunbook.verifyParams.safeParse({ namespace: 'n', config: 'c', resource: 'volumes.x.io', delete: [], backend: { deployment: 'd' } }).success).toBe(false);
  });
});

describe('webhook-backend-hang process scripts (real sh, a real process of this host)', () => {
  const startTicks = (pid: number) => readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ')[19]!;
  const state = (pid: number) => readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ')[0];
  const sh = (script: string) => execFileSync('sh', ['-c', script], { encoding: 'utf8' }).trim();
  // a signal takes effect when the kernel next schedules the process: the state is read until it shows (1 s at most)
  const settled = async (pid: number, stopped: boolean): Promise<string> => {
    for (let i = 0; i < 50 && (state(pid) === 'T') !== stopped; i++) await new Promise((r) => setTimeout(r, 20));
    return state(pid)!;
  };

  test('STOP and CONT reach the recorded process, and only it', async () => {
    const child = spawn('sleep', ['30']);
    try {
      const pid = child.pid!;
      const rec = { pod: 'p', node: 'n', containerId: 'c', pid, startTicks: startTicks(pid) };
      expect(sh(signalScript(rec, 'STOP'))).toBe('signalled');
      expect(await settled(pid, true)).toBe('T');
      // the same PID with another start time is another process: left alone
      expect(sh(signalScript({ ...rec, startTicks: '1' }, 'CONT'))).toBe('other');
      expect(state(pid)).toBe('T');
      expect(sh(signalScript(rec, 'CONT'))).toBe('signalled');
      expect(await settled(pid, false)).not.toBe('T');
    } finally {
      child.kill('SIGKILL');
    }
  });

  test('a process that is gone is said so', () => {
    expect(sh(signalScript({ pod: 'p', node: 'n', containerId: 'c', pid: 4_194_300, startTicks: '1' }, 'CONT'))).toBe('gone');
    expect(parseTask('1234 98765\n')).toEqual({ pid: 1234, startTicks: '98765' });
    expect(parseTask('no task')).toBeUndefined();
  });
});
