// admission-webhooks on fixture snapshots (no cluster): a missing backend, one with no ready endpoint, several
// webhooks of one configuration on one Service, Ignore against Fail, webhooks by URL, and healthy backends.
import { describe, expect, test } from '@jest/globals';
import { analyzeWebhooks, webhookInfo, type BackendState, type WebhookSnapshot } from '../../harness/detectors/admission-webhooks.js';

const hook = (name: string, svc: string | undefined, over: Record<string, unknown> = {}) =>
  webhookInfo('ValidatingWebhookConfiguration', 'policy', {
    name,
    clientConfig: svc ? { service: { namespace: 'policy-system', name: svc } } : { url: 'https://policy.example.com/validate' },
    rules: [{ operations: ['CREATE', 'UPDATE'], apiGroups: ['*'], apiVersions: ['*'], resources: ['configmaps'] }],
    sideEffects: 'None',
    admissionReviewVersions: ['v1'],
    ...over,
  } as never);

function snap(webhooks: WebhookSnapshot['webhooks'], backends: Record<string, BackendState>): WebhookSnapshot {
  return { kind: 'admission-webhooks', webhooks, backends };
}

describe('admission-webhooks', () => {
  test('a backend Service that does not exist: critical, naming the Service, the rules and what to change', () => {
    const [f] = analyzeWebhooks(snap([hook('cm.policy.io', 'gatekeeper')], { 'policy-system/gatekeeper': { exists: false, ready: 0, notReady: 0 } }));
    expect(f).toBeDefined();
    expect(f!.severity).toBe('critical');
    expect(f!.resources).toEqual(['policy-system/Service/gatekeeper', '/ValidatingWebhookConfiguration/policy']);
    expect(f!.rootCause).toContain('does not exist');
    expect(f!.rootCause).toContain('failurePolicy Fail');
    expect(f!.rootCause).toContain('CREATE,UPDATE configmaps');
    expect(f!.rootCause).toContain('restore Service policy-system/gatekeeper and the pods behind it');
    expect(f!.rootCause).toContain('refuses every request it matches');
  });

  test("no ready endpoint: says whether endpoints are not ready or the selector matches nothing", () => {
    const notReady = analyzeWebhooks(snap([hook('a.io', 'svc')], { 'policy-system/svc': { exists: true, ready: 0, notReady: 2, selector: 'app=policy' } }));
    expect(notReady[0]!.rootCause).toContain('has no ready endpoints (2 not ready)');
    const none = analyzeWebhooks(snap([hook('a.io', 'svc')], { 'policy-system/svc': { exists: true, ready: 0, notReady: 0, selector: 'app=policy' } }));
    expect(none[0]!.rootCause).toContain('its selector app=policy matches no running pod');
    expect(none[0]!.rootCause).toContain('bring back the pods behind Service policy-system/svc');
  });

  test('webhooks of one configuration on one Service are one finding', () => {
    const hooks = [hook('a.io', 'svc'), hook('b.io', 'svc')];
    const fs = analyzeWebhooks(snap(hooks, { 'policy-system/svc': { exists: false, ready: 0, notReady: 0 } }));
    expect(fs).toHaveLength(1);
    expect(fs[0]!.summary).toContain('webhooks a.io, b.io call Service policy-system/svc');
  });

  test('failurePolicy Ignore: a warning that requests pass unchecked, not a refusal', () => {
    const [f] = analyzeWebhooks(snap([hook('a.io', 'svc', { failurePolicy: 'Ignore' })], { 'policy-system/svc': { exists: false, ready: 0, notReady: 0 } }));
    expect(f!.severity).toBe('warning');
    expect(f!.rootCause).toContain('pass without the check');
  });

  test('a webhook without failurePolicy is Fail (the API default)', () => {
    expect(hook('a.io', 'svc').failurePolicy).toBe('Fail');
  });

  test('quiet: ready backends, and webhooks called by URL (no Service to read)', () => {
    expect(analyzeWebhooks(snap([hook('a.io', 'svc')], { 'policy-system/svc': { exists: true, ready: 1, notReady: 1, selector: 'app=policy' } }))).toEqual([]);
    expect(analyzeWebhooks(snap([hook('url.io', undefined)], {}))).toEqual([]);
  });

  test('the namespaceSelector is part of the evidence', () => {
    const h = hook('a.io', 'svc', { namespaceSelector: { matchLabels: { team: 'payments' }, matchExpressions: [{ key: 'env', operator: 'NotIn', values: ['dev'] }] } });
    const [f] = analyzeWebhooks(snap([h], { 'policy-system/svc': { exists: false, ready: 0, notReady: 0 } }));
    expect(f!.evidence[0]).toContain('namespaceSelector team=payments, env NotIn (dev)');
  });
});
