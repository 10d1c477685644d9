// The certificates of a mutual-TLS workload: one CA and the leaf certificates it signs, each stored as a
// kubernetes.io/tls Secret (tls.crt, tls.key, ca.crt: cert-manager's layout). Made with the shared X.509
// library; nothing here logs or returns key material except inside Secret bodies bound for the API.
import { createHash, type X509Certificate } from 'node:crypto';
import type { V1Secret } from '@kubernetes/client-node';
import { z } from 'zod';
import { issueCertificate, type IssuedCertificate } from '../certs/index.js';
import { MANAGED_BY } from '../core/labels.js';

export const LeafSpec = z
  .object({
    secret: z.string().min(1),
    commonName: z.string().min(1),
    usage: z.enum(['server', 'client', 'server+client']),
    /** DNS names; "{ns}" becomes the namespace */
    dnsNames: z.array(z.string().min(1)).default([]),
  })
  .strict();
export type LeafSpec = z.infer<typeof LeafSpec>;

export const PkiSpec = z
  .object({
    namespace: z.string().min(1),
    /** the CA's own Secret (tls.crt/tls.key of the CA), the signer for re-issuing */
    caSecret: z.string().min(1).default('mtls-ca'),
    caCommonName: z.string().min(1).default('faultline mtls CA'),
    validDays: z.number().positive().default(30),
    leaves: z.array(LeafSpec).min(1),
  })
  .strict();
export type PkiSpec = z.infer<typeof PkiSpec>;

const DAY = 86_400_000;

export interface IssuedPki {
  ca: IssuedCertificate;
  leaves: Array<{ spec: LeafSpec; cert: IssuedCertificate }>;
}

/** A new CA and every leaf signed by it. `generation` goes into the CA's name (1 = the original). */
export async function issuePki(spec: PkiSpec, now: Date, generation = 1): Promise<IssuedPki> {
  const notBefore = new Date(now.getTime() - 5 * 60_000);
  const notAfter = new Date(now.getTime() + spec.validDays * DAY);
  const ca = await issueCertificate({
    commonName: generation > 1 ? `${spec.caCommonName} ${generation}` : spec.caCommonName,
    organization: ['faultline'],
    usage: 'ca',
    notBefore,
    notAfter: new Date(notAfter.getTime() + DAY),
  });
  const leaves = [];
  for (const l of spec.leaves) {
    leaves.push({ spec: l, cert: await issueLeaf(l, spec.namespace, ca, notBefore, notAfter) });
  }
  return { ca, leaves };
}

export function issueLeaf(l: Pick<LeafSpec, 'commonName' | 'usage' | 'dnsNames'>, namespace: string, ca: IssuedCertificate, notBefore: Date, notAfter: Date): Promise<IssuedCertificate> {
  return issueCertificate({
    commonName: l.commonName,
    organization: ['faultline'],
    dnsNames: l.dnsNames.map((d) => d.replace(/\{ns\}/g, namespace)),
    usage: l.usage,
    notBefore,
    notAfter,
    issuer: { certPem: ca.certPem, keyPem: ca.keyPem },
  });
}

const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');

/** A kubernetes.io/tls Secret's data: the certificate, its key and the trust bundle. */
export function tlsData(cert: IssuedCertificate, caPem: string): Record<string, string> {
  return { 'tls.crt': b64(cert.certPem), 'tls.key': b64(cert.keyPem), 'ca.crt': b64(caPem) };
}

export function tlsSecret(namespace: string, name: string, cert: IssuedCertificate, caPem: string): V1Secret {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    type: 'kubernetes.io/tls',
    metadata: { name, namespace, labels: { [MANAGED_BY.key]: MANAGED_BY.value } },
    data: tlsData(cert, caPem),
  };
}

/** Every Secret of a PKI: the CA's (its ca.crt is itself) and one per leaf. */
export function pkiSecrets(spec: PkiSpec, pki: IssuedPki): V1Secret[] {
  return [
    tlsSecret(spec.namespace, spec.caSecret, pki.ca, pki.ca.certPem),
    ...pki.leaves.map((l) => tlsSecret(spec.namespace, l.spec.secret, l.cert, pki.ca.certPem)),
  ];
}

/** sha256 over a Secret's data (keys sorted, base64 values as stored): what the journal keeps instead of it. */
export function dataDigest(data: Record<string, string> | undefined): string {
  const h = createHash('sha256');
  for (const k of Object.keys(data ?? {}).sort()) h.update(`${k}\0${data![k]}\0`);
  return h.digest('hex');
}

const EKU_SERVER = '1.3.6.1.5.5.7.3.1';
const EKU_CLIENT = '1.3.6.1.5.5.7.3.2';

/** What re-issuing a certificate must keep: its common name, DNS names and usage, read from the certificate. */
export function leafSpecOf(cert: X509Certificate): Pick<LeafSpec, 'commonName' | 'usage' | 'dnsNames'> {
  const commonName = /(?:^|\n)CN=([^\n]*)/.exec(cert.subject)?.[1] ?? 'unnamed';
  const dnsNames = (cert.subjectAltName ?? '')
    .split(/,\s*/)
    .filter((s) => s.startsWith('DNS:'))
    .map((s) => s.slice(4));
  const eku = cert.keyUsage ?? [];
  const server = eku.includes(EKU_SERVER);
  const client = eku.includes(EKU_CLIENT);
  return { commonName, dnsNames, usage: server && client ? 'server+client' : client ? 'client' : 'server' };
}
