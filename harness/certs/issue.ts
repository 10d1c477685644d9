// Issuing certificates with @peculiar/x509 on node's WebCrypto. Used to make the faulty certificates a
// scenario installs (expired, not yet valid, signed by a foreign CA) and the certificates unit tests need.
// Signing keys may be kubeadm's (PEM "RSA PRIVATE KEY", PKCS#1) or PKCS#8/SEC1; node's crypto converts them.
import 'reflect-metadata';
import { createPrivateKey, webcrypto, type KeyObject } from 'node:crypto';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto);

type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;

export type CertUsage = 'server' | 'client' | 'server+client' | 'ca';
export type KeyType = 'rsa-2048' | 'ecdsa-p256';

export interface IssueRequest {
  commonName: string;
  organization?: string[];
  dnsNames?: string[];
  ipAddresses?: string[];
  usage: CertUsage;
  notBefore: Date;
  notAfter: Date;
  /** the CA that signs; absent = a self-signed CA (usage should be 'ca') */
  issuer?: { certPem: string; keyPem: string };
  keyType?: KeyType;
  /** PEM format of the new private key: 'pkcs8' ("PRIVATE KEY", default) or 'pkcs1' ("RSA PRIVATE KEY", RSA only) */
  keyFormat?: 'pkcs8' | 'pkcs1';
}

export interface IssuedCertificate {
  certPem: string;
  keyPem: string;
}

const RSA = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' } as const;
const ECDSA_KEY = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const ECDSA_SIGN = { name: 'ECDSA', hash: 'SHA-256' } as const;

function subtle(): webcrypto.SubtleCrypto {
  return webcrypto.subtle;
}

async function generateKeys(type: KeyType): Promise<CryptoKeyPair> {
  const alg = type === 'rsa-2048' ? { ...RSA, modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]) } : ECDSA_KEY;
  return (await subtle().generateKey(alg, true, ['sign', 'verify'])) as CryptoKeyPair;
}

/** A PEM private key of any common encoding as a WebCrypto signing key, plus the algorithm to sign with. */
async function importSigningKey(keyPem: string): Promise<{ key: CryptoKey; signingAlgorithm: webcrypto.Algorithm | webcrypto.EcdsaParams }> {
  const obj: KeyObject = createPrivateKey(keyPem);
  const der = obj.export({ type: 'pkcs8', format: 'der' });
  if (obj.asymmetricKeyType === 'rsa') {
    return { key: await subtle().importKey('pkcs8', der, RSA, false, ['sign']), signingAlgorithm: RSA };
  }
  if (obj.asymmetricKeyType === 'ec' && obj.asymmetricKeyDetails?.namedCurve === 'prime256v1') {
    return { key: await subtle().importKey('pkcs8', der, ECDSA_KEY, false, ['sign']), signingAlgorithm: ECDSA_SIGN };
  }
  throw new Error(`unsupported signing key type ${obj.asymmetricKeyType}${obj.asymmetricKeyDetails?.namedCurve ? ` (${obj.asymmetricKeyDetails.namedCurve})` : ''}`);
}

/** Subject in Go's pkix order (O before CN), which is how kubeadm's certificates print. */
function subjectName(req: IssueRequest): x509.JsonName {
  const name: x509.JsonName = [];
  for (const o of req.organization ?? []) name.push({ O: [o] });
  name.push({ CN: [req.commonName] });
  return name;
}

function keyUsages(usage: CertUsage, keyType: KeyType): x509.KeyUsageFlags {
  const F = x509.KeyUsageFlags;
  if (usage === 'ca') return F.keyCertSign | F.digitalSignature | F.keyEncipherment;
  return keyType === 'rsa-2048' ? F.digitalSignature | F.keyEncipherment : F.digitalSignature;
}

function extendedUsages(usage: CertUsage): string[] {
  if (usage === 'server') return [x509.ExtendedKeyUsage.serverAuth];
  if (usage === 'client') return [x509.ExtendedKeyUsage.clientAuth];
  if (usage === 'server+client') return [x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth];
  return [];
}

async function exportKeyPem(key: CryptoKey, format: 'pkcs8' | 'pkcs1'): Promise<string> {
  const der = Buffer.from(await subtle().exportKey('pkcs8', key));
  const obj = createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
  if (format === 'pkcs1') {
    if (obj.asymmetricKeyType !== 'rsa') throw new Error('pkcs1 key format needs an RSA key');
    return obj.export({ type: 'pkcs1', format: 'pem' }).toString();
  }
  return obj.export({ type: 'pkcs8', format: 'pem' }).toString();
}

export async function issueCertificate(req: IssueRequest): Promise<IssuedCertificate> {
  const keyType = req.keyType ?? 'rsa-2048';
  if (req.notAfter.getTime() <= req.notBefore.getTime()) throw new Error('notAfter must be later than notBefore');
  const keys = await generateKeys(keyType);
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(req.usage === 'ca', undefined, true),
    new x509.KeyUsagesExtension(keyUsages(req.usage, keyType), true),
    await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
  ];
  const eku = extendedUsages(req.usage);
  if (eku.length) extensions.push(new x509.ExtendedKeyUsageExtension(eku));
  const san: x509.JsonGeneralName[] = [
    ...(req.dnsNames ?? []).map((value) => ({ type: 'dns' as const, value })),
    ...(req.ipAddresses ?? []).map((value) => ({ type: 'ip' as const, value })),
  ];
  if (san.length) extensions.push(new x509.SubjectAlternativeNameExtension(san));

  let cert: x509.X509Certificate;
  if (!req.issuer) {
    cert = await x509.X509CertificateGenerator.createSelfSigned({
      name: subjectName(req),
      notBefore: req.notBefore,
      notAfter: req.notAfter,
      keys,
      extensions,
      signingAlgorithm: keyType === 'rsa-2048' ? RSA : ECDSA_SIGN,
    });
  } else {
    const ca = new x509.X509Certificate(req.issuer.certPem);
    const signer = await importSigningKey(req.issuer.keyPem);
    extensions.push(await x509.AuthorityKeyIdentifierExtension.create(ca.publicKey));
    cert = await x509.X509CertificateGenerator.create({
      subject: subjectName(req),
      issuer: ca.subjectName,
      notBefore: req.notBefore,
      notAfter: req.notAfter,
      publicKey: keys.publicKey,
      signingKey: signer.key,
      signingAlgorithm: signer.signingAlgorithm,
      extensions,
    });
  }
  return { certPem: cert.toString('pem') + '\n', keyPem: await exportKeyPem(keys.privateKey, req.keyFormat ?? 'pkcs8') };
}
