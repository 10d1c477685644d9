// The certificate Secrets of a namespace as a workload sees them: the CA Secret and the leaf Secrets it signed.
// Used by the rotation fault and the runbook; Secret data stays in memory and goes back to the API only.
import type { CoreV1Api, V1Secret } from '@kubernetes/client-node';
import { issuedBy, parseCertificates, type IssuedCertificate } from '../certs/index.js';
import { issueLeaf, leafSpecOf, tlsData } from './pki.js';
import { putSecretData, readSecret } from './secrets.js';

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

/** The namespace's CA Secret: a kubernetes.io/tls Secret whose tls.crt is a CA certificate that is also in its
 *  own ca.crt (the signer, as the mtls-certificates fixture and cert-manager's CA issuer store it). */
export async function findCaSecret(core: CoreV1Api, namespace: string): Promise<string | undefined> {
  const list = await core.listNamespacedSecret({ namespace, fieldSelector: 'type=kubernetes.io/tls' });
  return list.items.find((s) => {
    const crt = parseCertificates(pemOf(s, 'tls.crt'))[0];
    return !!crt?.ca && !!s.data?.['tls.key'] && parseCertificates(pemOf(s, 'ca.crt')).some((c) => c.fingerprint256 === crt.fingerprint256);
  })?.metadata?.name;
}

/** Re-issues a Secret's leaf certificate from `ca` (same names and usage) and sets its trust bundle to `ca`
 *  alone: tls.crt, tls.key and ca.crt replaced, type and metadata kept. Returns the new resourceVersion. */
export async function reissueSecret(core: CoreV1Api, namespace: string, s: V1Secret, ca: IssuedCertificate, notBefore: Date, notAfter: Date): Promise<string> {
  const leaf = await issueLeaf(leafSpecOf(parseCertificates(pemOf(s, 'tls.crt'))[0]!), namespace, ca, notBefore, notAfter);
  const res = await putSecretData(core, namespace, s.metadata!.name!, s.type ?? 'kubernetes.io/tls', tlsData(leaf, ca.certPem));
  return res.metadata!.resourceVersion ?? '';
}
