// stale-workload-certs detector, mtls-ca-rotation helpers and the k6 probe's parsing: pure parts, with
// certificates really issued by the shared X.509 library (no cluster).
import { describe, expect, test } from '@jest/globals';
import { inspectCertificate, parseCertificates } from '../../harness/certs/index.js';
import { analyzeWorkloadCerts, clockLine, staleReasons } from '../../harness/detectors/stale-workload-certs.js';
import { backupName } from '../../harness/faults/mtls-ca-rotation.js';
import { consoleMessages } from '../../harness/load/k6.js';
import { groupLogSignals, logMessage, type SecretCert, type ServedCert, type WorkloadCertSnapshot } from '../../harness/mtls/collect.js';
import { dataDigest, issuePki, leafSpecOf, PkiSpec, pkiSecrets } from '../../harness/mtls/pki.js';
import { backupKey, splitBackup } from '../../harness/mtls/secrets.js';
import { parseReport } from '../../harness/report/schema.js';

const NS = 'stale-certs-mtls';
const spec = PkiSpec.parse({
  namespace: NS,
  leaves: [
    { secret: 'backend-tls', commonName: 'backend', usage: 'server', dnsNames: ['backend', 'backend.{ns}.svc'] },
    { secret: 'probe-client-tls', commonName: 'k6-probe', usage: 'client' },
  ],
});
const now = new Date();

async function twoGenerations() {
  const old = await issuePki(spec, now, 1);
  const cur = await issuePki(spec, now, 2);
  return { old, cur };
}

function secretCert(name: string, certPem: string, caPem: string): SecretCert {
  const cas = parseCertificates(caPem);
  return {
    namespace: NS,
    name,
    resourceVersion: '42',
    cert: inspectCertificate(parseCertificates(certPem)[0]!, { now, trusted: cas }),
    cas: cas.map((c) => ({ subject: inspectCertificate(c).subject, fingerprint256: c.fingerprint256 })),
  };
}

function served(pod: string, certPem: string, caPem: string): ServedCert {
  return { namespace: NS, pod, secret: 'backend-tls', port: 8443, node: 'w1', cert: inspectCertificate(parseCertificates(certPem)[0]!, { now, trusted: parseCertificates(caPem) }) };
}

describe('stale-workload-certs analysis', () => {
  test('pods serving the old CA are named, with the reason and the client error', async () => {
    const { old, cur } = await twoGenerations();
    const oldBackend = old.leaves[0]!.cert.certPem;
    const curBackend = cur.leaves[0]!.cert.certPem;
    const snap: WorkloadCertSnapshot = {
      kind: 'workload-certs',
      takenAt: now.toISOString(),
      secrets: [secretCert('backend-tls', curBackend, cur.ca.certPem)],
      served: [served('backend-a', oldBackend, cur.ca.certPem), served('backend-b', curBackend, cur.ca.certPem)],
      logs: [{ namespace: NS, pod: 'frontend-x', message: 'upstream SSL certificate verify error: (20:unable to get local issuer certificate) while SSL handshaking to upstream', count: 7 }],
      clocks: [
        { node: 'cp', offsetMs: 0.4, rttMs: 30 },
        { node: 'w1', offsetMs: -0.2, rttMs: 30 },
      ],
    };
    const [f, ...rest] = analyzeWorkloadCerts(snap);
    expect(rest).toEqual([]);
    expect(f!.summary).toContain('1 of 2 pod(s) serve stale certificates: backend-a (not signed by the current CA');
    expect(f!.resources).toEqual([`${NS}/Pod/backend-a`]);
    const text = f!.evidence.join('\n');
    expect(text).toContain('upstream SSL certificate verify error');
    expect(text).toContain('1 pod(s) serve the current certificates: backend-b');
    expect(text).toContain('no skew that matters');
    expect(text).not.toMatch(/PRIVATE KEY/);
  });

  test('quiet when every pod serves its Secret\'s certificate from the current CA', async () => {
    const { cur } = await twoGenerations();
    const pem = cur.leaves[0]!.cert.certPem;
    const snap: WorkloadCertSnapshot = { kind: 'workload-certs', takenAt: now.toISOString(), secrets: [secretCert('backend-tls', pem, cur.ca.certPem)], served: [served('backend-a', pem, cur.ca.certPem)], logs: [] };
    expect(analyzeWorkloadCerts(snap)).toEqual([]);
  });

  test('an expired certificate in a Secret is found although nothing serves it (the standard alert cannot)', async () => {
    const { cur } = await twoGenerations();
    const s = secretCert('backend-tls', cur.leaves[0]!.cert.certPem, cur.ca.certPem);
    s.cert = { ...s.cert!, problems: ['expired'] };
    const [f] = analyzeWorkloadCerts({ kind: 'workload-certs', takenAt: now.toISOString(), secrets: [s], served: [], logs: [] });
    expect(f!.summary).toContain('backend-tls (expired)');
    expect(f!.resources).toEqual([`${NS}/Secret/backend-tls`]);
  });

  test('an expired TLS Secret is named with the pods that mount it and the Ingress that serves it, and what to renew', async () => {
    const { cur } = await twoGenerations();
    const s = secretCert('web-tls', cur.leaves[0]!.cert.certPem, cur.ca.certPem);
    s.cert = { ...s.cert!, problems: ['expired'] };
    s.usedBy = ['Pod web-5f7-abc', 'Ingress web'];
    const [f] = analyzeWorkloadCerts({ kind: 'workload-certs', takenAt: now.toISOString(), secrets: [s], served: [], logs: [] });
    expect(f!.summary).toContain('web-tls (expired; used by Pod web-5f7-abc, Ingress web)');
    expect(f!.rootCause).toContain(`to change: renew Secret ${NS}/web-tls, then restart the pods that mount it`);
    expect(f!.resources).toEqual([`${NS}/Secret/web-tls`, `${NS}/Pod/web-5f7-abc`, `${NS}/Ingress/web`]);
    const unused = { ...s, usedBy: [] };
    expect(analyzeWorkloadCerts({ kind: 'workload-certs', takenAt: now.toISOString(), secrets: [unused], served: [], logs: [] })[0]!.summary).toContain('(expired; used by nothing)');
  });

  test('a served certificate that is not the Secret\'s current one is stale even from the right CA', async () => {
    const { cur } = await twoGenerations();
    const again = await issuePki(spec, now, 2);
    const s = secretCert('backend-tls', cur.leaves[0]!.cert.certPem, cur.ca.certPem);
    const other = served('backend-a', again.leaves[0]!.cert.certPem, again.ca.certPem);
    expect(staleReasons(other, s).join(' ')).toContain('not the certificate Secret backend-tls holds now');
  });

  test('clock skew between nodes is called out; invisible clocks are said to be', () => {
    const base: WorkloadCertSnapshot = { kind: 'workload-certs', takenAt: now.toISOString(), secrets: [], served: [], logs: [] };
    expect(clockLine(base)).toContain('not visible');
    expect(clockLine({ ...base, clocks: [{ node: 'a', offsetMs: 0, rttMs: 1 }, { node: 'b', offsetMs: 5000, rttMs: 1 }] })).toContain('SKEW above');
  });
});

describe('log and k6 parsing', () => {
  test('nginx error lines become their message, grouped', () => {
    const line =
      '2026/11/21 07:40:01 [error] 7#7: *31 upstream SSL certificate verify error: (20:unable to get local issuer certificate) while SSL handshaking to upstream, client: 10.244.1.1, server: , request: "GET / HTTP/1.1", upstream: "https://10.96.0.20:8443/"';
    expect(logMessage(line)).toBe('upstream SSL certificate verify error: (20:unable to get local issuer certificate) while SSL handshaking to upstream');
    const g = groupLogSignals(NS, 'frontend-x', `${line}\n${line}\nsomething else\n`);
    expect(g).toEqual([{ namespace: NS, pod: 'frontend-x', message: logMessage(line), count: 2 }]);
  });

  test('k6 console lines are read from its logfmt stderr', () => {
    const err = 'time="2026-11-21T07:40:01Z" level=warning msg="FAIL status 502 body \\"502 Bad Gateway\\"" source=console\ntime="x" level=info msg="other" source=runner\n';
    expect(consoleMessages(err)).toEqual(['FAIL status 502 body "502 Bad Gateway"']);
  });
});

describe('mtls PKI helpers', () => {
  test('re-issuing keeps the name, DNS names and usage read back from the certificate', async () => {
    const { cur } = await twoGenerations();
    const backend = parseCertificates(cur.leaves[0]!.cert.certPem)[0]!;
    expect(leafSpecOf(backend)).toEqual({ commonName: 'backend', usage: 'server', dnsNames: ['backend', `backend.${NS}.svc`] });
    expect(leafSpecOf(parseCertificates(cur.leaves[1]!.cert.certPem)[0]!).usage).toBe('client');
  });

  test('Secrets carry tls.crt, tls.key and the CA bundle; digests and the backup layout round-trip', async () => {
    const { cur } = await twoGenerations();
    const secrets = pkiSecrets(spec, cur);
    expect(secrets.map((s) => s.metadata!.name)).toEqual(['mtls-ca', 'backend-tls', 'probe-client-tls']);
    expect(Object.keys(secrets[1]!.data!).sort()).toEqual(['ca.crt', 'tls.crt', 'tls.key']);
    const data: Record<string, string> = {};
    for (const s of secrets) for (const [k, v] of Object.entries(s.data!)) data[backupKey(s.metadata!.name!, k)] = v;
    const back = splitBackup(data);
    for (const s of secrets) expect(dataDigest(back.get(s.metadata!.name!))).toBe(dataDigest(s.data));
    expect(dataDigest({ a: '1', b: '2' })).toBe(dataDigest({ b: '2', a: '1' }));
    expect(backupName('20261121-073228-3352')).toBe('faultline-backup-20261121-073228-3352');
  });
});

describe('report', () => {
  test('the alert note and the load numbers survive reading report.json back', () => {
    const load = [{ probe: 'k6-mtls', phase: 'during', target: 'https://172.18.0.3:30443/', startedAt: now.toISOString(), seconds: 20, requests: 400, failed: 250, failureRate: 0.625, errors: ['status 502'] }];
    const r = parseReport({
      schemaVersion: 1,
      tool: { name: 'faultline', version: '0' },
      runId: 'r',
      startedAt: now.toISOString(),
      endedAt: now.toISOString(),
      cluster: { provider: 'kind', name: 'c' },
      scenarios: [{ id: 's', title: 't', status: 'passed', ttdSeconds: 1, ttrSeconds: 2, standardAlert: { name: 'A', waitSeconds: 300, note: 'cannot fire here' }, stages: [], findings: [], integrity: [], load }],
    });
    expect(r.scenarios[0]!.standardAlert.note).toBe('cannot fire here');
    expect(r.scenarios[0]!.load).toEqual(load);
  });
});
