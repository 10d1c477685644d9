// assertJournalable on the static pod manifests kubeadm wrote on a kind node (fixtures copied from a real
// cluster), and on variants that hold a secret literal.
import { readFileSync } from 'node:fs';
import { assertJournalable } from '../../harness/cluster/node-files.js';

const fixture = (name: string) => readFileSync(new URL(`./fixtures/kubeadm/${name}.yaml`, import.meta.url));

describe('assertJournalable', () => {
  test.each(['kube-apiserver', 'etcd', 'kube-controller-manager'])('kubeadm %s manifest: key file paths and switches pass', (name) => {
    expect(() => assertJournalable(fixture(name), `/etc/kubernetes/manifests/${name}.yaml`, 'cp')).not.toThrow();
  });

  test.each([
    ['a token literal on a flag', '    - --oidc-client-secret=s3cr3t-value'],
    ['a bearer token in an env value', '    - { name: AUTH, value: "Bearer abcdefghijklmnopqrstu" }'],
    ['an env entry whose name says password', '    env: [{ name: ETCD_PASSWORD, value: hunter2hunter2 }]'],
  ])('%s is refused, and the message does not repeat it', (_what, line) => {
    const bytes = Buffer.from(`${fixture('kube-apiserver').toString('utf8')}${line}\n`);
    let message = '';
    try {
      assertJournalable(bytes, '/etc/kubernetes/manifests/kube-apiserver.yaml', 'cp');
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toContain('look secret');
    expect(message).not.toMatch(/s3cr3t-value|abcdefghijklmnopqrstu|hunter2hunter2/);
  });
});
