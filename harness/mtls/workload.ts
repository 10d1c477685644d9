// The certificate Secrets of a namespace as a workload sees them: the CA Secret and the leaf Secrets it signed.
// Used by the rotation fault and the runbook; Secret data stays in memory and goes back to the API only.
import type { CoreV1Api, V1Secret } from '@kubernetes/client-node';
import { issuedBy, parseCertificates } from '../certs/index.js';
import { readSecret } from './secrets.js';

export interface CaSecret {
  secret: V1Secret;
  certPem: string;
  keyPem: string;
}

export const pemOf = (s: V1Secret, key: string): string => Buffer.from(s.data?.[key] ?? '', 'base64').toString('utf8');

export async function readCa(core: CoreV1Api, namespace: string, name: string): Promise<CaSecret> {
  const secret = await readSecret(core, namespace, name);
  if (!secret) throw new Error(`CA Secret ${namespace}/${name} not found`);
  const certPem = pemOf(secret, 'tls.crt');
  const keyPem = pemOf(secret, 'tls.key');
  const ca = parseCertificates(certPem)[0];
  if (!ca?.ca || !keyPem) throw new Error(`Secret ${namespace}/${name} holds no CA certificate and key`);
  return { secret, certPem, keyPem };
}

/** kubernetes.io/tls Secrets of the namespace other than the CA's own, whose tls.crt the given CA signed. */
export async function leafSecretsOf(core: CoreV1Api, namespace: string, ca: CaSecret): Promise<V1Secret[]> {
  const caCert = parseCertificates(ca.certPem)[0]!;
  const list = await core.listNamespacedSecret({ namespace, fieldSelector: 'type=kubernetes.io/tls' });
  return list.items
    .filter((s) => s.metadata?.name !== ca.secret.metadata?.name)
    .filter((s) => {
      const leaf = parseCertificates(pemOf(s, 'tls.crt'))[0];
      return !!leaf && issuedBy(leaf, caCert);
    })
    .sort((a, b) => a.metadata!.name!.localeCompare(b.metadata!.name!));
}
