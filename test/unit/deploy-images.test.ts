// manifestImages: which images the deploy stage copies into nodes that cannot pull (pure, no cluster).
import { describe, expect, test } from '@jest/globals';
import { manifestImages } from '../../harness/engine/deploy.js';

describe('manifestImages', () => {
  test('collects container and init container images of workloads, pods and cron jobs, once each', () => {
    const objs = [
      { apiVersion: 'apps/v1', kind: 'StatefulSet', metadata: { name: 'db' }, spec: { template: { spec: { containers: [{ name: 'a', image: 'postgres:15' }], initContainers: [{ name: 'i', image: 'busybox:latest' }] } } } },
      { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' }, spec: { containers: [{ name: 'b', image: 'busybox:latest' }] } },
      { apiVersion: 'batch/v1', kind: 'CronJob', metadata: { name: 'c' }, spec: { jobTemplate: { spec: { template: { spec: { containers: [{ name: 'c', image: 'registry:2' }] } } } } } },
      { apiVersion: 'v1', kind: 'Secret', metadata: { name: 's' } },
    ];
    expect(manifestImages(objs).sort()).toEqual(['busybox:latest', 'postgres:15', 'registry:2']);
  });
});
