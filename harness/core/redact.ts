// Every renderer passes its output through here: reports must never hold Secret values, tokens or keys.

const MASK = '[REDACTED]';

/** Exact strings known to be secret in this run (Secret data from victim manifests, secret-looking env values). */
const known = new Set<string>();

export function registerSecretValue(value: string | undefined | null): void {
  // very short values would mask ordinary words; they are still caught by the patterns below when labelled
  if (value && value.length >= 6) known.add(value);
}

export function clearSecretValues(): void {
  known.clear();
}

const PATTERNS: Array<[RegExp, string]> = [
  // PEM private keys (RSA, EC, OPENSSH, ENCRYPTED, PKCS#8)
  [/-----BEGIN ([A-Z0-9 ]*)PRIVATE KEY-----[\s\S]*?(-----END \1PRIVATE KEY-----|$)/g, `[REDACTED PRIVATE KEY]`],
  // Authorization headers and bearer tokens
  [/\b(Bearer|Basic)\s+[A-Za-z0-9\-._~+/]{8,}=*/gi, `$1 ${MASK}`],
  // JWTs (service account tokens, OIDC id tokens)
  [/\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\b/g, MASK],
  // credentials in URLs: scheme://user:secret@host
  [/(\b[a-z][a-z0-9+.-]*:\/\/[^\s:/@]+:)[^\s@/]+@/gi, `$1${MASK}@`],
  // key=value / key: value where the key names a secret
  [
    /((?:password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key|private[_-]?key|client[_-]?secret)[A-Za-z0-9_-]*["']?\s*[:=]\s*["']?)(?!\[REDACTED)([^\s"',;}]{1,})/gi,
    `$1${MASK}`,
  ],
  // env entries whose name says secret, as JSON ({"name":"DB_PASSWORD","value":"..."}) or YAML flow ({ name: X, value: ... })
  [
    /("name"\s*:\s*"[^"]*(?:pass|secret|token|key|credential)[^"]*"\s*,\s*"value"\s*:\s*")((?:[^"\\]|\\.)*)(")/gi,
    `$1${MASK}$3`,
  ],
  [/(\bname:\s*[\w.-]*(?:pass|secret|token|key|credential)[\w.-]*\s*,\s*value:\s*["']?)([^"',}\s]+)/gi, `$1${MASK}`],
  // kubeconfig / Secret manifest fields holding base64 credentials
  [/((?:client-key-data|client-certificate-data|token-data)["']?\s*[:=]\s*["']?)[A-Za-z0-9+/=]{16,}/g, `$1${MASK}`],
];

// base64 of "-----BEGIN" at each of the three byte alignments a base64 encoder can give it
const B64_PEM = /[A-Za-z0-9+/]*(?:LS0tLS1CRUdJTi|0tLS0tQkVHSU4|tLS0tLUJFR0lO)[A-Za-z0-9+/]{16,}={0,2}/g;

/** A base64 blob that decodes to a PEM private key (a Secret's tls.key, a kubeconfig's client-key-data). */
function redactBase64Keys(text: string): string {
  return text.replace(B64_PEM, (blob) => {
    const decoded = Buffer.from(blob, 'base64').toString('latin1');
    return /PRIVATE KEY/.test(decoded) ? '[REDACTED PRIVATE KEY]' : blob;
  });
}

export function redactText(text: string): string {
  let out = text;
  for (const value of [...known].sort((a, b) => b.length - a.length)) {
    out = out.split(value).join(MASK);
    // the same value base64-encoded, as a Secret's data holds it
    const b64 = Buffer.from(value).toString('base64');
    if (b64.length >= 8) out = out.split(b64).join(MASK);
  }
  for (const [re, rep] of PATTERNS) out = out.replace(re, rep);
  return redactBase64Keys(out);
}

/** Redacts every string inside a JSON-like value (keys kept). */
export function redactDeep<T>(value: T): T {
  if (typeof value === 'string') return redactText(value) as T;
  if (Array.isArray(value)) return value.map((v) => redactDeep(v)) as T;
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = redactDeep(v);
    return out as T;
  }
  return value;
}
