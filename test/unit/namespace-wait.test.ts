// Unit (plain objects, no cluster): what the teardown says about a namespace that does not finish terminating.
import { describe, expect, test } from '@jest/globals';
import type { V1Namespace, V1Pod } from '@kubernetes/client-node';
import { controllerManagerState, namespaceConditions } from '../../harness/engine/namespace-wait.js';

describe('namespaceConditions', () => {
  test("names the namespace controller's true conditions", () => {
    const ns: V1Namespace = {
      status: {
        phase: 'Terminating',
        conditions: [
          { type: 'NamespaceDeletionDiscoveryFailure', status: 'False', reason: 'ResourcesDiscovered' },
          { type: 'NamespaceContentRemaining', status: 'True', reason: 'SomeResourcesRemain', message: 'Some resources are remaining: pods. has 1 resource instances' },
        ],
      },
    };
    expect(namespaceConditions(ns)).toBe('NamespaceContentRemaining: Some resources are remaining: pods. has 1 resource instances');
  });

  test('nothing when the controller has not looked yet', () => {
    expect(namespaceConditions({ status: { phase: 'Terminating' } })).toBeUndefined();
  });
});

describe('controllerManagerState', () => {
  const pod = (status: V1Pod['status']): V1Pod => ({ metadata: { name: 'kube-controller-manager-cp' }, status });

  test('a kube-controller-manager in back-off is named with its restarts', () => {
    const p = pod({ containerStatuses: [{ name: 'kube-controller-manager', image: 'x', imageID: 'x', ready: false, restartCount: 7, state: { waiting: { reason: 'CrashLoopBackOff' } } }] });
    expect(controllerManagerState([p])).toBe('kube-controller-manager (which deletes a namespace\'s contents) is in CrashLoopBackOff, 7 restart(s)');
  });

  test('quiet when it is ready or not a pod on this cluster', () => {
    const p = pod({ containerStatuses: [{ name: 'kube-controller-manager', image: 'x', imageID: 'x', ready: true, restartCount: 3, state: { running: {} } }] });
    expect(controllerManagerState([p])).toBeUndefined();
    expect(controllerManagerState([])).toBeUndefined();
  });

  test('running but not ready', () => {
    const p = pod({ containerStatuses: [{ name: 'kube-controller-manager', image: 'x', imageID: 'x', ready: false, restartCount: 1, state: { running: {} } }] });
    expect(controllerManagerState([p])).toMatch(/is running, not ready, 1 restart/);
  });
});
