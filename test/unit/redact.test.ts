import { afterEach, describe, expect, test } from '@jest/globals';
import { clearSecretValues, redactDeep, redactText, registerSecretValue } from '../../harness/core/redact.js';

afterEach(() => clearSecretValues());

describe('redaction', () => {
  test('PEM private keys of any flavour', () => {
    for (const kind of ['RSA ', 'EC ', 'OPENSSH ', 'ENCRYPTED ', '']) {
      const pem = `key:\n-----BEGIN ${kind}PRIVATE KEY-----\nAAAABBBBCCCC\nDDDD\n-----END ${kind}PRIVATE KEY-----\ntrailer`;
      const out = redactText(pem);
      expect(out).not.toContain('AAAABBBBCCCC');
      expect(out).toContain('[REDACTED PRIVATE KEY]');
      expect(out).toContain('trailer');
    }
    // a certificate is public and stays
    expect(redactText('-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----')).toContain('MIIB');
  });

  test('bearer tokens, JWTs and URL credentials', () => {
    expect(redactText('Authorization: Bearer abc.DEF-123_456~xyz')).toBe('Authorization: Bearer [REDACTED]');
    const jwt = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW0ifQ.c2lnbmF0dXJlLXNpZ25hdHVyZQ';
    expect(redactText(`token ${jwt} end`)).toBe('token [REDACTED] end');
    expect(redactText('postgres://app:s3cretpw@db:5432/app')).toBe('postgres://app:[REDACTED]@db:5432/app');
  });

  test('labelled secrets in key=value and key: value forms', () => {
    expect(redactText('POSTGRES_PASSWORD=hunter2 next')).toBe('POSTGRES_PASSWORD=[REDACTED] next');
    expect(redactText('"password": "hunter2"')).toBe('"password": "[REDACTED]"');
    expect(redactText('api_key: AKIA1234')).toBe('api_key: [REDACTED]');
    expect(redactText('client-key-data: LS0tLS1CRUdJTiBSU0EgUFJJVkFURSBLRVktLS0tLQ==')).toBe('client-key-data: [REDACTED]');
    // names alone are not secrets
    expect(redactText('env POSTGRES_PASSWORD in container postgresql sets both value and valueFrom')).toBe(
      'env POSTGRES_PASSWORD in container postgresql sets both value and valueFrom',
    );
    expect(redactText('valueFrom (secretKeyRef postgresql/postgres-password)')).toBe('valueFrom (secretKeyRef postgresql/postgres-password)');
  });

  test('registered values are masked wherever they appear; redactDeep walks objects', () => {
    registerSecretValue('not-secure-database-password');
    registerSecretValue('abc'); // too short to register safely
    const out = redactDeep({ a: ['x not-secure-database-password y'], b: { c: 'abc' }, n: 3 });
    expect(out).toEqual({ a: ['x [REDACTED] y'], b: { c: 'abc' }, n: 3 });
  });

  test('a base64-encoded PEM key is masked at any alignment; base64 of a certificate stays', () => {
    const pem = '-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAvery-secret-key-bytes\n-----END RSA PRIVATE KEY-----\n';
    for (const prefix of ['', 'a', 'ab']) {
      const b64 = Buffer.from(prefix + pem).toString('base64');
      const out = redactText(`tls.key: ${b64} end`);
      expect(out).not.toContain(b64.slice(8, 40));
      expect(out).toBe('tls.key: [REDACTED PRIVATE KEY] end');
    }
    const cert = Buffer.from('-----BEGIN CERTIFICATE-----\nMIIBpublic\n-----END CERTIFICATE-----\n').toString('base64');
    expect(redactText(`tls.crt: ${cert}`)).toBe(`tls.crt: ${cert}`);
  });

  test('literal env values whose name says secret, in JSON and YAML flow form, and registered values in base64', () => {
    expect(redactText('{"name":"POSTGRES_PASSWORD","value":"hunter2-x"}')).toBe('{"name":"POSTGRES_PASSWORD","value":"[REDACTED]"}');
    expect(redactText('- { name: API_TOKEN, value: abc123def }')).toBe('- { name: API_TOKEN, value: [REDACTED] }');
    expect(redactText('{"name":"POSTGRES_USER","value":"postgres"}')).toBe('{"name":"POSTGRES_USER","value":"postgres"}');
    registerSecretValue('not-secure-database-password');
    const b64 = Buffer.from('not-secure-database-password').toString('base64');
    expect(redactText(`data: {password: ${b64}}`)).not.toContain(b64);
  });
});

describe('standard output', () => {
  test('recover lines reach stdout redacted: a revert error quoting a token or a registered value', async () => {
    const { out } = await import('../../harness/cli/common.js');
    const { recoverLines } = await import('../../harness/cli/commands/recover.js');
    registerSecretValue('s3cr3t-db-pass');
    const text = recoverLines({
      outcomes: [{ runId: 'r1', open: true, reverted: [], closed: [], failed: ['sts-1: patch refused: env value s3cr3t-db-pass; Authorization: Bearer abcdefghijklmnop'] }],
      bad: [],
    } as never);
    const written: string[] = [];
    const write = process.stdout.write;
    process.stdout.write = ((s: string) => (written.push(s), true)) as typeof process.stdout.write;
    try {
      out(text);
    } finally {
      process.stdout.write = write;
    }
    expect(written.join('')).toContain('run r1: FAILED sts-1: patch refused');
    expect(written.join('')).not.toContain('s3cr3t-db-pass');
    expect(written.join('')).not.toContain('abcdefghijklmnop');
  });
});
