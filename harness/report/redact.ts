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
  // kubeconfig / Secret manifest fields holding base64 credentials
  [/((?:client-key-data|client-certificate-data|token-data)["']?\s*[:=]\s*["']?)[A-Za-z0-9+/=]{16,}/g, `$1${MASK}`],
];

export function redactText(text: string): string {
  let out = text;
  for (const value of [...known].sort((a, b) => b.length - a.length)) out = out.split(value).join(MASK);
  for (const [re, rep] of PATTERNS) out = out.replace(re, rep);
  return out;
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
