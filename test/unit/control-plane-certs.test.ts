// stale-certs-control-plane: the fault's certificate request, the detector's analysis and the runbook's pure
// parts. Certificates are real (generated here with harness/certs); the node scans are FIXTURES built from them
// (no cluster, no node exec). The fault's node writes and the live handshakes run for real only in
// test/e2e/certs-control-plane.test.ts.
import { beforeAll, describe, expect, test } from '@jest/globals';
import { issueCertificate, parseCertificates, type IssuedCertificate } from '../../harness/certs/index.js';
import { parseScan, type EndpointProbe, type NodeCerts } from '../../harness/certs/node-scan.js';
import { analyzeControlPlaneCerts, certIssues, logGist, soonSecondsFromEnv, type ControlPlaneCertsSnapshot } from '../../harness/detectors/control-plane-certs.js';
import { ControlPlaneCertParams, controlPlaneCert, staleRequest } from '../../harness/faults/control-plane-cert.js';
import { builtinDetectors } from '../../harness/detectors/registry.js';
import { builtinFaults } from '../../harness/faults/registry.js';
import { builtinRunbooks } from '../../harness/runbooks/registry.js';
import { fileOfFinding, renewScript } from '../../harness/runbooks/control-plane-certs.js';
import { tlsErrorText } from '../../harness/certs/probe.js';

const DAY = 86_400_000;
const NOW = new Date('2026-11-21T08:00:00Z');
const at = (days: number) => new Date(NOW.getTime() + days * DAY);
const PKI = '/etc/kubernetes/pki';
const NODE = 'cp-1';

let ca: IssuedCertificate;
let etcdCa: IssuedCertificate;
let foreign: IssuedCertificate;
let etcdClient: IssuedCertificate;
let kubeletClient: IssuedCertificate;
let admin: IssuedCertificate;

beforeAll(async () => {
  ca = await issueCertificate({ commonName: 'kubernetes', usage: 'ca', notBefore: at(-10), notAfter: at(3640) });
  etcdCa = await issueCertificate({ commonName: 'etcd-ca', usage: 'ca', notBefore: at(-10), notAfter: at(3640) });
  foreign = await issueCertificate({ commonName: 'kubernetes', usage: 'ca', notBefore: at(-1), notAfter: at(3640) });
  etcdClient = await issueCertificate({ commonName: 'kube-apiserver-etcd-client', usage: 'client', notBefore: at(-10), notAfter: at(355), issuer: etcdCa });
  kubeletClient = await issueCertificate({ commonName: 'kube-apiserver-kubelet-client', organization: ['kubeadm:cluster-admins'], usage: 'client', notBefore: at(-10), notAfter: at(355), issuer: ca });
  admin = await issueCertificate({ commonName: 'kubernetes-admin', organization: ['kubeadm:cluster-admins'], usage: 'client', notBefore: at(-10), notAfter: at(355), issuer: ca });
}, 60_000);

const ok = (endpoint: string, role: string, client?: string): EndpointProbe => ({ endpoint, role, ...(client ? { client } : {}), result: { ok: true } });

function node(over: { etcdClient?: string; kubeletClient?: string; probes?: EndpointProbe[]; logs?: NodeCerts['logs']; mtime?: number } = {}): NodeCerts {
  return {
    node: NODE,
    ip: '172.18.0.7',
    files: [
      { path: `${PKI}/ca.crt`, source: 'pki', pem: ca.certPem },
      { path: `${PKI}/etcd/ca.crt`, source: 'pki', pem: etcdCa.certPem },
      { path: `${PKI}/apiserver-etcd-client.crt`, source: 'pki', pem: over.etcdClient ?? etcdClient.certPem, ...(over.mtime ? { mtime: over.mtime } : {}) },
      { path: `${PKI}/apiserver-kubelet-client.crt`, source: 'pki', pem: over.kubeletClient ?? kubeletClient.certPem },
      { path: '/etc/kubernetes/admin.conf', source: 'kubeconfig', from: 'client-certificate-data', pem: admin.certPem },
    ],
    logs: over.logs ?? [],
    probes: over.probes ?? [
      ok('kube-apiserver 172.18.0.7:6443', 'clients -> kube-apiserver'),
      ok('etcd 172.18.0.7:2379', 'kube-apiserver -> etcd', `${PKI}/apiserver-etcd-client.crt`),
      ok('kubelet 172.18.0.7:10250', 'kube-apiserver -> kubelet', `${PKI}/apiserver-kubelet-client.crt`),
    ],
  };
}

const snap = (n: NodeCerts, soonDays = 30): ControlPlaneCertsSnapshot => ({ kind: 'control-plane-certs', takenAt: NOW.toISOString(), soonSeconds: soonDays * 86_400, nodes: [n] });

const ETCD_LOG = `2026-11-21T07:59:30.1Z stderr F {"level":"warn","ts":"2026-11-21T07:59:30.1Z","caller":"embed/config_logging.go:188","msg":"rejected connection on client endpoint","remote-addr":"127.0.0.1:34820","server-name":"","error":"tls: failed to verify certificate: x509: certificate has expired or is not yet valid: current time 2026-11-21T07:59:30Z is after 2026-11-20T08:00:00Z"}`;

describe('control-plane-cert fault (pure parts)', () => {
  test('the stale certificate keeps the real subject, SANs and usage, with the mode\'s dates', async () => {
    const p = ControlPlaneCertParams.parse({ cert: 'apiserver-kubelet-client', mode: 'expired' });
    const req = staleRequest(kubeletClient.certPem, 'client', p, NOW, { certPem: ca.certPem, keyPem: ca.keyPem });
    expect(req).toMatchObject({ commonName: 'kube-apiserver-kubelet-client', organization: ['kubeadm:cluster-admins'], usage: 'client', notAfter: at(-1), keyFormat: 'pkcs1' });
    const issued = await issueCertificate(req);
    expect(certIssues(node({ kubeletClient: issued.certPem }), NOW, 0).map((i) => i.check.problems)).toEqual([['expired']]);
    const early = staleRequest(kubeletClient.certPem, 'client', { mode: 'not-yet-valid', offsetSeconds: 3600 }, NOW, undefined);
    expect(early.notBefore).toEqual(new Date(NOW.getTime() + 3600_000));
  });

  test('bad parameters are refused by the schema; describe names paths and digests only', () => {
    expect(() => ControlPlaneCertParams.parse({ cert: 'ca', mode: 'expired' })).toThrow();
    expect(() => ControlPlaneCertParams.parse({ cert: 'apiserver-etcd-client', mode: 'revoked' })).toThrow();
    expect(() => ControlPlaneCertParams.parse({ cert: 'apiserver-etcd-client', mode: 'expired', extra: 1 })).toThrow();
    const text = controlPlaneCert.describe({
      node: NODE, cert: 'apiserver-etcd-client', mode: 'expired', holder: 'kube-apiserver', backupDir: '/var/lib/faultline/cert-backup/r1/apiserver-etcd-client', readyTimeoutSeconds: 180,
      files: [{ path: `${PKI}/apiserver-etcd-client.crt`, backup: '/b/x.crt', sha256: 'a'.repeat(64) }, { path: `${PKI}/apiserver-etcd-client.key`, backup: '/b/x.key', sha256: 'b'.repeat(64) }],
    });
    expect(text).toContain(`${PKI}/apiserver-etcd-client.key (sha256 bbbbbbbbbbbb)`);
    expect(text).not.toMatch(/PRIVATE KEY/);
  });

  test('fault, detector and runbook are registered', () => {
    expect(builtinFaults().get('control-plane-cert')).toBe(controlPlaneCert);
    expect(builtinDetectors().has('control-plane-certs')).toBe(true);
    expect(builtinRunbooks().has('control-plane-certs')).toBe(true);
  });
});

describe('control-plane-certs detector (fixture scans with real certificates)', () => {
  test('a healthy control plane is quiet', () => {
    expect(analyzeControlPlaneCerts(snap(node()))).toEqual([]);
  });

  test('an expired etcd client certificate: file, live handshake and etcd\'s own log line', async () => {
    const expired = await issueCertificate({ commonName: 'kube-apiserver-etcd-client', usage: 'client', notBefore: at(-366), notAfter: at(-1), issuer: etcdCa });
    const probes = [
      { endpoint: 'kube-apiserver 172.18.0.7:6443', role: 'clients -> kube-apiserver', result: { ok: false, error: 'connect ECONNREFUSED 172.18.0.7:6443' } },
      { endpoint: 'etcd 172.18.0.7:2379', role: 'kube-apiserver -> etcd', client: `${PKI}/apiserver-etcd-client.crt`, result: { ok: false, error: 'TLS alert from the server: certificate expired (sslv3 alert certificate expired, alert 45)' } },
    ];
    const findings = analyzeControlPlaneCerts(snap(node({ etcdClient: expired.certPem, probes, logs: [{ component: 'etcd', line: ETCD_LOG }], mtime: NOW.getTime() / 1000 - 60 })));
    expect(findings).toHaveLength(1);
    const f = findings[0]!;
    expect(f).toMatchObject({ detector: 'control-plane-certs', severity: 'critical', runbook: 'control-plane-certs' });
    expect(f.summary).toMatch(/apiserver-etcd-client\.crt on cp-1 is expired on .*kube-apiserver -> etcd :2379 client certificate.*alert certificate expired/);
    expect(f.resources).toEqual([`kube-system/Pod/kube-apiserver-${NODE}`, `kube-system/CertificateFile/${NODE}:${PKI}/apiserver-etcd-client.crt`]);
    expect(f.evidence.join('\n')).toContain('etcd log 2026-11-21T07:59:30Z: rejected connection on client endpoint: tls: failed to verify certificate: x509: certificate has expired or is not yet valid');
    expect(f.rootCause).toContain('kubeadm certs renew apiserver-etcd-client');
    expect(fileOfFinding(f)).toEqual({ node: NODE, path: `${PKI}/apiserver-etcd-client.crt` });
    expect(JSON.stringify(findings)).not.toMatch(/PRIVATE KEY|BEGIN CERTIFICATE/);
  });

  test('log lines older than the certificate file are about an earlier certificate and left out', async () => {
    const expired = await issueCertificate({ commonName: 'kube-apiserver-etcd-client', usage: 'client', notBefore: at(-366), notAfter: at(-1), issuer: etcdCa });
    const [f] = analyzeControlPlaneCerts(snap(node({ etcdClient: expired.certPem, logs: [{ component: 'etcd', line: ETCD_LOG }], mtime: NOW.getTime() / 1000 - 10 })));
    expect(f!.evidence.join('\n')).not.toContain('etcd log');
  });

  test('a kubelet client certificate from a foreign CA with the real CA\'s name is wrong-ca; the kubelet answers 401', async () => {
    const wrong = await issueCertificate({ commonName: 'kube-apiserver-kubelet-client', organization: ['kubeadm:cluster-admins'], usage: 'client', notBefore: at(-1), notAfter: at(365), issuer: foreign });
    const probes = [{ endpoint: 'kubelet 172.18.0.7:10250', role: 'kube-apiserver -> kubelet', client: `${PKI}/apiserver-kubelet-client.crt`, result: { ok: false, httpStatus: 401, error: 'HTTP 401 Unauthorized: the server rejected the client certificate (Unauthorized)' } }];
    const kubeletLog = '2026-11-21T07:59:50.120000+00:00 cp-1 kubelet[573]: E1121 07:59:50.1 573 server.go:329] "Unable to authenticate the request due to an error" err="verifying certificate SN=1 failed: x509: certificate signed by unknown authority"';
    const [f, ...rest] = analyzeControlPlaneCerts(snap(node({ kubeletClient: wrong.certPem, probes, logs: [{ component: 'kubelet', line: kubeletLog }] })));
    expect(rest).toEqual([]);
    expect(f!.summary).toMatch(/apiserver-kubelet-client\.crt on cp-1 is not signed by \/etc\/kubernetes\/pki\/ca\.crt \(issuer CN=kubernetes: a different CA\)/);
    expect(f!.evidence.join('\n')).toMatch(/HTTP 401/);
    expect(f!.evidence.join('\n')).toContain('x509: certificate signed by unknown authority');
  });

  test('soon-to-expire is a warning inside the window only; the window comes from FAULTLINE_CERT_SOON_DAYS', async () => {
    const soon = await issueCertificate({ commonName: 'kube-apiserver-etcd-client', usage: 'client', notBefore: at(-300), notAfter: at(10), issuer: etcdCa });
    expect(analyzeControlPlaneCerts(snap(node({ etcdClient: soon.certPem }), 30)).map((f) => f.severity)).toEqual(['warning']);
    expect(analyzeControlPlaneCerts(snap(node({ etcdClient: soon.certPem }), 5))).toEqual([]);
    expect(soonSecondsFromEnv({ FAULTLINE_CERT_SOON_DAYS: '7' })).toBe(7 * 86_400);
    expect(soonSecondsFromEnv({})).toBe(30 * 86_400);
  });

  test('a live handshake failing on certificates with valid files on disk is its own finding', () => {
    const probes = [{ endpoint: 'etcd 172.18.0.7:2379', role: 'kube-apiserver -> etcd', result: { ok: false, error: 'unable to verify the first certificate (UNABLE_TO_VERIFY_LEAF_SIGNATURE)' } }];
    const [f] = analyzeControlPlaneCerts(snap(node({ probes })));
    expect(f!.summary).toMatch(/live TLS handshake kube-apiserver -> etcd on cp-1 fails: unable to verify/);
    // a refused connection (the component is down) is not a certificate finding
    expect(analyzeControlPlaneCerts(snap(node({ probes: [{ endpoint: 'etcd x:2379', role: 'kube-apiserver -> etcd', result: { ok: false, error: 'connect ECONNREFUSED x:2379' } }] })))).toEqual([]);
  });
});

describe('node scan parsing and text helpers', () => {
  test('the scan output is split into files, kubeconfig certificates and log lines', () => {
    const out = [
      '===IP 172.18.0.7',
      `===PKI ${PKI}/ca.crt 1763712000`,
      ca.certPem.trim(),
      '===KCDATA /etc/kubernetes/admin.conf',
      admin.certPem.trim(),
      '===KCFILE /etc/kubernetes/kubelet.conf /var/lib/kubelet/pki/kubelet-client-current.pem',
      kubeletClient.certPem.trim(),
      '===LOGS',
      `etcd ${ETCD_LOG}`,
    ].join('\n');
    const n = parseScan(NODE, out);
    expect(n.ip).toBe('172.18.0.7');
    expect(n.files.map((f) => [f.path, f.source, f.from, f.mtime])).toEqual([
      [`${PKI}/ca.crt`, 'pki', undefined, 1763712000],
      ['/etc/kubernetes/admin.conf', 'kubeconfig', 'client-certificate-data', undefined],
      ['/etc/kubernetes/kubelet.conf', 'kubeconfig', '/var/lib/kubelet/pki/kubelet-client-current.pem', undefined],
    ]);
    expect(parseCertificates(n.files[2]!.pem)[0]!.subject).toContain('CN=kube-apiserver-kubelet-client');
    expect(n.logs).toEqual([{ component: 'etcd', line: ETCD_LOG }]);
  });

  test('log gist, OpenSSL alert text and the renew script', () => {
    expect(logGist('etcd', ETCD_LOG)).toMatch(/^etcd log 2026-11-21T07:59:30Z: rejected connection on client endpoint: tls: failed to verify certificate: x509/);
    expect(tlsErrorText(new Error('805C3FFAFB7F0000:error:0A000415:SSL routines:ssl3_read_bytes:sslv3 alert certificate expired:../deps/openssl/ssl/record/rec_layer_s3.c:1601:SSL alert number 45\n'))).toBe(
      'TLS alert from the server: certificate expired (sslv3 alert certificate expired, alert 45)',
    );
    const script = renewScript(['apiserver-etcd-client']);
    expect(script).toContain("kubeadm certs renew 'apiserver-etcd-client'");
    expect(script).toContain('/kind/kubeadm.conf');
  });
});
