// Reading and checking certificates with node's own X.509 implementation. Nothing here touches key material:
// a CertCheck carries names, dates, serial and fingerprint only, so it is safe to put in reports.
import { X509Certificate } from 'node:crypto';

export type CertProblem = 'expired' | 'not-yet-valid' | 'expiring-soon' | 'wrong-ca';

export interface CertCheck {
  subject: string;
  issuer: string;
  serial: string;
  fingerprint256: string;
  notBefore: Date;
  notAfter: Date;
  problems: CertProblem[];
}

export interface InspectOptions {
  now?: Date;
  /** a certificate whose notAfter is closer than this is 'expiring-soon' (0 or absent: not checked) */
  soonSeconds?: number;
  /** CAs (and intermediates) the certificate must chain to; absent: the chain is not checked */
  trusted?: X509Certificate[];
}

const CERT_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** Every certificate in a PEM text (a bundle may hold several); other blocks (keys) are ignored. */
export function parseCertificates(pem: string | Buffer): X509Certificate[] {
  const text = typeof pem === 'string' ? pem : pem.toString('utf8');
  return (text.match(CERT_BLOCK) ?? []).map((block) => new X509Certificate(block));
}

/** True when cert was signed by issuer (names match and the signature verifies with issuer's public key). */
export function issuedBy(cert: X509Certificate, issuer: X509Certificate): boolean {
  try {
    return cert.checkIssued(issuer) && cert.verify(issuer.publicKey);
  } catch {
    return false;
  }
}

/** Follows issuers through `trusted` (intermediates allowed) until a certificate in it is reached. */
export function chainsTo(cert: X509Certificate, trusted: X509Certificate[]): boolean {
  let cur = cert;
  for (let hops = 0; hops < 8; hops++) {
    if (trusted.some((t) => t.fingerprint256 === cur.fingerprint256 && t.ca)) return true;
    const parent = trusted.find((t) => t.fingerprint256 !== cur.fingerprint256 && issuedBy(cur, t));
    if (!parent) return false;
    if (parent.ca && issuedBy(parent, parent)) return true;
    cur = parent;
  }
  return false;
}

export function inspectCertificate(cert: X509Certificate, opts: InspectOptions = {}): CertCheck {
  const now = (opts.now ?? new Date()).getTime();
  const notBefore = new Date(cert.validFrom);
  const notAfter = new Date(cert.validTo);
  const problems: CertProblem[] = [];
  if (notAfter.getTime() < now) problems.push('expired');
  if (notBefore.getTime() > now) problems.push('not-yet-valid');
  const soonMs = (opts.soonSeconds ?? 0) * 1000;
  if (soonMs > 0 && !problems.includes('expired') && notAfter.getTime() - now < soonMs) problems.push('expiring-soon');
  if (opts.trusted && !chainsTo(cert, opts.trusted)) problems.push('wrong-ca');
  return {
    subject: oneLine(cert.subject),
    issuer: oneLine(cert.issuer),
    serial: cert.serialNumber,
    fingerprint256: cert.fingerprint256,
    notBefore,
    notAfter,
    problems,
  };
}

/** node prints distinguished names one attribute per line; reports want "O=x, CN=y". */
function oneLine(dn: string): string {
  return dn.split('\n').filter(Boolean).join(', ');
}
