// harness/certs on real cryptography: certificates are generated here, checked with node's X509Certificate
// and used in real TLS handshakes against a local node:tls server. Nothing is faked.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import * as https from 'node:https';
import * as net from 'node:net';
import * as tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import { inspectCertificate, issueCertificate, parseCertificates, probeTls, type IssuedCertificate } from '../../harness/certs/index.js';

const DAY = 86_400_000;
const now = Date.now();
const at = (days: number): Date => new Date(now + days * DAY);

let ca: IssuedCertificate;
let otherCa: IssuedCertificate;
let good: IssuedCertificate;
let expired: IssuedCertificate;
let future: IssuedCertificate;
let foreign: IssuedCertificate;

const server = (leaf: IssuedCertificate): IssuedCertificate & { dnsNames: string[] } => ({ ...leaf, dnsNames: ['localhost'] });

beforeAll(async () => {
  ca = await issueCertificate({ commonName: 'kubernetes', usage: 'ca', notBefore: at(-1), notAfter: at(3650) });
  otherCa = await issueCertificate({ commonName: 'kubernetes', usage: 'ca', notBefore: at(-1), notAfter: at(3650), keyType: 'ecdsa-p256' });
  const srv = { commonName: 'kube-apiserver', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'], usage: 'server' as const };
  good = await issueCertificate({ ...srv, notBefore: at(-1), notAfter: at(365), issuer: ca });
  expired = await issueCertificate({ ...srv, notBefore: at(-400), notAfter: at(-35), issuer: ca });
  future = await issueCertificate({ ...srv, notBefore: at(30), notAfter: at(395), issuer: ca });
  foreign = await issueCertificate({ ...srv, notBefore: at(-1), notAfter: at(365), issuer: otherCa });
}, 60_000);

describe('issueCertificate and inspectCertificate', () => {
  const trusted = (): X509Certificate[] => parseCertificates(ca.certPem);

  test('a certificate signed by the trusted CA and inside its dates has no problems', () => {
    const [cert] = parseCertificates(good.certPem);
    const check = inspectCertificate(cert!, { trusted: trusted(), soonSeconds: 30 * 86_400 });
    expect(check.problems).toEqual([]);
    expect(check.subject).toBe('CN=kube-apiserver');
    expect(check.issuer).toBe('CN=kubernetes');
    expect(check.notAfter.getTime()).toBeGreaterThan(now);
  });

  test('expired, not yet valid, expiring soon and wrong CA are told apart', () => {
    const inspect = (pem: string, soonSeconds = 0) => inspectCertificate(parseCertificates(pem)[0]!, { trusted: trusted(), soonSeconds }).problems;
    expect(inspect(expired.certPem)).toEqual(['expired']);
    expect(inspect(future.certPem)).toEqual(['not-yet-valid']);
    expect(inspect(good.certPem, 400 * 86_400)).toEqual(['expiring-soon']);
    expect(inspect(foreign.certPem)).toEqual(['wrong-ca']);
    // the same foreign certificate is fine against its own CA
    expect(inspectCertificate(parseCertificates(foreign.certPem)[0]!, { trusted: parseCertificates(otherCa.certPem) }).problems).toEqual([]);
  });

  test('"now" moves the checks, and without trusted CAs the chain is not judged', () => {
    const [cert] = parseCertificates(good.certPem);
    expect(inspectCertificate(cert!, { now: at(366) }).problems).toEqual(['expired']);
    expect(inspectCertificate(parseCertificates(foreign.certPem)[0]!, {}).problems).toEqual([]);
  });

  test('the CA itself is trusted and self-signed; an unrelated self-signed CA is wrong-ca', () => {
    expect(inspectCertificate(trusted()[0]!, { trusted: trusted() }).problems).toEqual([]);
    expect(inspectCertificate(parseCertificates(otherCa.certPem)[0]!, { trusted: trusted() }).problems).toEqual(['wrong-ca']);
  });

  test('a kubeadm-style PKCS#1 RSA CA key signs; names, usages and SANs are those asked for', async () => {
    const pkcs1 = createPrivateKey(ca.keyPem).export({ type: 'pkcs1', format: 'pem' }).toString();
    expect(pkcs1).toContain('BEGIN RSA PRIVATE KEY');
    const client = await issueCertificate({
      commonName: 'kube-apiserver-etcd-client',
      organization: ['system:masters', 'kubeadm:cluster-admins'],
      usage: 'client',
      notBefore: at(-2),
      notAfter: at(-1),
      issuer: { certPem: ca.certPem, keyPem: pkcs1 },
    });
    const [cert] = parseCertificates(client.certPem);
    expect(cert!.verify(parseCertificates(ca.certPem)[0]!.publicKey)).toBe(true);
    expect(cert!.subject.split('\n')).toEqual(['O=system:masters', 'O=kubeadm:cluster-admins', 'CN=kube-apiserver-etcd-client']);
    expect(cert!.keyUsage).toEqual(['1.3.6.1.5.5.7.3.2']);
    expect(cert!.ca).toBe(false);
    expect(client.keyPem).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    // the new key belongs to the new certificate
    expect(cert!.checkPrivateKey(createPrivateKey(client.keyPem))).toBe(true);
    const [srv] = parseCertificates(good.certPem);
    expect(srv!.subjectAltName).toBe('DNS:localhost, IP Address:127.0.0.1');
    expect(srv!.keyUsage).toEqual(['1.3.6.1.5.5.7.3.1']);
  });

  test('PKCS#1 output on request, and ECDSA keys', async () => {
    const rsa = await issueCertificate({ commonName: 'a', usage: 'server+client', notBefore: at(-1), notAfter: at(1), issuer: ca, keyFormat: 'pkcs1' });
    expect(rsa.keyPem).toMatch(/^-----BEGIN RSA PRIVATE KEY-----/);
    expect(parseCertificates(rsa.certPem)[0]!.keyUsage?.sort()).toEqual(['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']);
    const ec = await issueCertificate({ commonName: 'b', usage: 'client', notBefore: at(-1), notAfter: at(1), issuer: otherCa, keyType: 'ecdsa-p256' });
    expect(createPrivateKey(ec.keyPem).asymmetricKeyType).toBe('ec');
    await expect(issueCertificate({ commonName: 'c', usage: 'client', notBefore: at(1), notAfter: at(-1) })).rejects.toThrow(/notAfter/);
  });

  test('parseCertificates reads every certificate of a bundle and skips keys; checks hold no key material', () => {
    const bundle = `${good.certPem}${good.keyPem}${ca.certPem}`;
    const certs = parseCertificates(Buffer.from(bundle));
    expect(certs.map((c) => c.subject)).toEqual(['CN=kube-apiserver', 'CN=kubernetes']);
    const text = JSON.stringify(certs.map((c) => inspectCertificate(c, { trusted: certs })));
    expect(text).not.toMatch(/PRIVATE KEY|BEGIN CERTIFICATE/);
    const keyBody = good.keyPem.split('\n')[1]!;
    expect(text).not.toContain(keyBody);
    expect(parseCertificates('no certificates here')).toEqual([]);
  });
});

describe('probeTls against a local TLS server', () => {
  const servers: Array<tls.Server | https.Server> = [];
  async function listen(leaf: IssuedCertificate, extra: tls.TlsOptions = {}): Promise<number> {
    const s = tls.createServer({ cert: leaf.certPem, key: leaf.keyPem, ...extra }, (sock) => {
      sock.on('error', () => undefined);
      sock.end('hello\n');
    });
    s.on('tlsClientError', () => undefined);
    servers.push(s);
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    return (s.address() as AddressInfo).port;
  }
  afterAll(async () => {
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  });

  test('a good server verifies and its leaf is reported', async () => {
    const port = await listen(good);
    const res = await probeTls({ host: '127.0.0.1', port, servername: 'localhost', ca: ca.certPem, timeoutMs: 5000 });
    expect(res).toMatchObject({ ok: true, peer: { subject: 'CN=kube-apiserver', problems: [] } });
  });

  test('an expired server certificate fails with the handshake error, and the peer is still reported', async () => {
    const port = await listen(expired);
    const res = await probeTls({ host: '127.0.0.1', port, servername: 'localhost', ca: ca.certPem, timeoutMs: 5000 });
    expect(res.ok).toBe(false);
    expect(res.error).toMatch(/certificate has expired/);
    expect(res.peer?.problems).toEqual(['expired']);
  });

  test('not yet valid, foreign CA and wrong name fail', async () => {
    const futurePort = await listen(future);
    const foreignPort = await listen(foreign);
    const goodPort = await listen(good);
    const probe = (port: number, servername = 'localhost') => probeTls({ host: '127.0.0.1', port, servername, ca: ca.certPem, timeoutMs: 5000 });
    expect((await probe(futurePort)).error).toMatch(/certificate is not yet valid/);
    expect((await probe(foreignPort)).error).toMatch(/unable to (verify|get local issuer)/);
    expect((await probe(goodPort, 'etcd.example')).error).toMatch(/Hostname\/IP does not match/);
  });

  test('without a CA the server is reported, not judged', async () => {
    const port = await listen(foreign);
    const res = await probeTls({ host: '127.0.0.1', port, timeoutMs: 5000, inspect: { trusted: parseCertificates(ca.certPem) } });
    expect(res.ok).toBe(true);
    expect(res.peer?.problems).toEqual(['wrong-ca']);
  });

  test('a server that requires client certificates rejects an expired one (TLS 1.3 alert after the handshake)', async () => {
    const port = await listen(good, { requestCert: true, rejectUnauthorized: true, ca: ca.certPem });
    const client = await issueCertificate({ commonName: 'kube-apiserver-etcd-client', usage: 'client', notBefore: at(-10), notAfter: at(-1), issuer: ca });
    const okClient = await issueCertificate({ commonName: 'kube-apiserver-etcd-client', usage: 'client', notBefore: at(-1), notAfter: at(10), issuer: ca });
    const base = { host: '127.0.0.1', port, servername: 'localhost', ca: ca.certPem, timeoutMs: 5000 };
    const bad = await probeTls({ ...base, cert: client.certPem, key: client.keyPem });
    expect(bad.ok).toBe(false);
    expect(bad.error).toMatch(/certificate expired|bad certificate|client certificate rejected/i);
    expect(await probeTls({ ...base, cert: okClient.certPem, key: okClient.keyPem })).toMatchObject({ ok: true });
  });

  test('httpGet: a server that authenticates above TLS answers 401 to a client certificate it rejects (like the kubelet)', async () => {
    const s = https.createServer({ cert: good.certPem, key: good.keyPem, requestCert: true, rejectUnauthorized: false, ca: ca.certPem }, (req, res) => {
      const authorized = (req.socket as tls.TLSSocket).authorized;
      res.writeHead(authorized ? 200 : 401).end(authorized ? 'ok' : 'Unauthorized');
    });
    servers.push(s);
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    const port = (s.address() as AddressInfo).port;
    const okClient = await issueCertificate({ commonName: 'kube-apiserver-kubelet-client', usage: 'client', notBefore: at(-1), notAfter: at(10), issuer: ca });
    const wrong = await issueCertificate({ commonName: 'kube-apiserver-kubelet-client', usage: 'client', notBefore: at(-1), notAfter: at(10), issuer: otherCa, keyType: 'ecdsa-p256' });
    const base = { host: '127.0.0.1', port, timeoutMs: 5000, httpGet: '/healthz' };
    expect(await probeTls({ ...base, cert: okClient.certPem, key: okClient.keyPem })).toMatchObject({ ok: true, httpStatus: 200 });
    const bad = await probeTls({ ...base, cert: wrong.certPem, key: wrong.keyPem });
    expect(bad).toMatchObject({ ok: false, httpStatus: 401 });
    expect(bad.error).toMatch(/^HTTP 401 Unauthorized: the server rejected the client certificate \(Unauthorized\)$/);
  });

  test('runs over a socket handed in, and times out on a silent peer', async () => {
    const port = await listen(good);
    const sock = net.connect(port, '127.0.0.1');
    await new Promise((r) => sock.once('connect', r));
    expect(await probeTls({ host: 'localhost', port, socket: sock, ca: ca.certPem, servername: 'localhost', timeoutMs: 5000 })).toMatchObject({ ok: true });
    const silent = net.createServer(() => undefined);
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const res = await probeTls({ host: '127.0.0.1', port: (silent.address() as AddressInfo).port, timeoutMs: 300 });
    silent.close();
    expect(res).toMatchObject({ ok: false, error: expect.stringMatching(/timed out/) });
  });
});
