// The shared X.509 library: read and check certificates, issue them, probe live TLS endpoints.
export { parseCertificates, inspectCertificate, issuedBy, chainsTo } from './inspect.js';
export type { CertCheck, CertProblem, InspectOptions } from './inspect.js';
export { issueCertificate } from './issue.js';
export type { CertUsage, IssueRequest, IssuedCertificate, KeyType } from './issue.js';
export { probeTls } from './probe.js';
export type { ProbeOptions, ProbeResult } from './probe.js';
