// A real TLS handshake with node:tls that reports the server's leaf certificate and, when it fails, the
// handshake's own error text. It can run over a socket handed in (a port-forward stream, a docker exec pipe).
import { X509Certificate } from 'node:crypto';
import * as tls from 'node:tls';
import type { Duplex } from 'node:stream';
import { inspectCertificate, type CertCheck, type InspectOptions } from './inspect.js';

export interface ProbeOptions {
  host: string;
  port: number;
  /** SNI and the name the server certificate must carry (checked only when `ca` is given) */
  servername?: string;
  socket?: Duplex;
  /** CA bundle to verify the server with; absent: the server is not verified, only reported */
  ca?: string | Buffer;
  /** client certificate and key (mutual TLS) */
  cert?: string | Buffer;
  key?: string | Buffer;
  timeoutMs: number;
  /** TLS 1.3 servers reject a client certificate after the client's handshake finished; wait this long for
   *  such an alert before calling the handshake good (default 400 ms, only when a client certificate is sent) */
  settleMs?: number;
  /** options for inspecting the peer certificate (dates, soon window, trusted CAs) */
  inspect?: InspectOptions;
  /** after the handshake, send GET <path> and report the HTTP status: servers that authenticate the client
   *  certificate above TLS (the kubelet, the API server) answer 401 to a certificate they reject */
  httpGet?: string;
}

export interface ProbeResult {
  ok: boolean;
  error?: string;
  peer?: CertCheck;
  /** status of the GET sent with `httpGet` */
  httpStatus?: number;
}

// OpenSSL's wording for the verify codes node reports when it does not reject the connection itself
const VERIFY_TEXT: Record<string, string> = {
  CERT_HAS_EXPIRED: 'certificate has expired',
  CERT_NOT_YET_VALID: 'certificate is not yet valid',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'unable to verify the first certificate',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'unable to get local issuer certificate',
  UNABLE_TO_GET_ISSUER_CERT: 'unable to get issuer certificate',
  SELF_SIGNED_CERT_IN_CHAIN: 'self-signed certificate in certificate chain',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'self-signed certificate',
  CERT_SIGNATURE_FAILURE: 'certificate signature failure',
  CERT_REVOKED: 'certificate revoked',
  INVALID_PURPOSE: 'unsupported certificate purpose',
};

function verifyErrorText(err: Error | string | null | undefined): string {
  if (!err) return 'server certificate not verified';
  const code = typeof err === 'string' ? err : ((err as NodeJS.ErrnoException).code ?? err.message);
  const text = VERIFY_TEXT[code] ?? (typeof err === 'string' ? err : err.message);
  return text === code || text.includes(code) ? text : `${text} (${code})`;
}

export function probeTls(opts: ProbeOptions): Promise<ProbeResult> {
  return new Promise((resolve) => {
    let peer: CertCheck | undefined;
    let done = false;
    let socket: tls.TLSSocket | undefined;
    let httpStatus: number | undefined;
    const finish = (ok: boolean, error?: string): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket?.destroy();
      resolve({ ok, ...(error !== undefined ? { error } : {}), ...(peer ? { peer } : {}), ...(httpStatus !== undefined ? { httpStatus } : {}) });
    };
    const timer = setTimeout(() => finish(false, `TLS handshake with ${opts.host}:${opts.port} timed out after ${opts.timeoutMs} ms`), opts.timeoutMs);
    try {
      socket = tls.connect({
        host: opts.host,
        port: opts.port,
        ...(opts.socket ? { socket: opts.socket } : {}),
        ...(opts.servername ? { servername: opts.servername } : {}),
        ...(opts.ca ? { ca: opts.ca } : {}),
        ...(opts.cert ? { cert: opts.cert } : {}),
        ...(opts.key ? { key: opts.key } : {}),
        // verified below, so that the peer certificate is still reported when verification fails
        rejectUnauthorized: false,
      });
    } catch (err) {
      finish(false, (err as Error).message);
      return;
    }
    socket.on('error', (err) => finish(false, tlsErrorText(err)));
    socket.on('secureConnect', () => {
      const s = socket!;
      // getPeerCertificate once: on node 20 a getPeerX509Certificate call first leaves it empty
      const peerCert = s.getPeerCertificate();
      if (peerCert?.raw) peer = inspectCertificate(new X509Certificate(peerCert.raw), opts.inspect);
      if (opts.ca) {
        // node reports a name mismatch only by its code; checkServerIdentity gives the readable text
        const identityErr = opts.servername ? tls.checkServerIdentity(opts.servername, peerCert) : undefined;
        if (!s.authorized && String(s.authorizationError) !== 'ERR_TLS_CERT_ALTNAME_INVALID') return finish(false, verifyErrorText(s.authorizationError));
        if (identityErr) return finish(false, identityErr.message);
        if (!s.authorized) return finish(false, verifyErrorText(s.authorizationError));
      }
      if (opts.httpGet) return httpStatusOf(s, opts, (status, text) => {
        httpStatus = status;
        if (status === undefined) return finish(false, text);
        finish(status !== 401, status === 401 ? `HTTP 401 Unauthorized: the server rejected the client certificate${text ? ` (${text})` : ''}` : undefined);
      });
      if (!opts.cert) return finish(true);
      // a server that accepted the client certificate waits for a request (or speaks first); one that
      // rejected it sends an alert (an 'error' above) or just closes
      s.once('data', () => finish(true));
      s.once('end', () => setTimeout(() => finish(false, 'server closed the connection right after the handshake (client certificate rejected)'), 50));
      setTimeout(() => finish(true), opts.settleMs ?? 400);
    });
  });
}

/** Sends a bare GET and reads the status line (and a short body for 4xx). */
function httpStatusOf(s: tls.TLSSocket, opts: ProbeOptions, done: (status: number | undefined, text: string) => void): void {
  let buf = '';
  const settle = (): void => {
    const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(buf)?.[1]);
    if (!Number.isFinite(status)) return done(undefined, buf ? `no HTTP status in the answer: ${buf.slice(0, 80)}` : 'server closed the connection after the handshake (client certificate rejected)');
    const [head = '', ...rest] = buf.split('\r\n\r\n');
    const raw = rest.join('\r\n\r\n');
    const body = (/^transfer-encoding:\s*chunked/im.test(head) ? dechunk(raw) : raw).trim().slice(0, 160);
    done(status, status >= 400 ? body : '');
  };
  s.setEncoding('utf8');
  s.on('data', (d: string) => (buf += d));
  s.once('end', settle);
  s.write(`GET ${opts.httpGet} HTTP/1.1\r\nHost: ${opts.servername ?? opts.host}\r\nConnection: close\r\n\r\n`);
}

/** OpenSSL's alert errors carry a source path and codes; keep the alert ("sslv3 alert certificate expired"). */
export function tlsErrorText(err: Error): string {
  const alert = /:((?:sslv3|tlsv1[0-9]*) alert [^:]+):/.exec(err.message)?.[1];
  const num = /SSL alert number (\d+)/.exec(err.message)?.[1];
  return alert ? `TLS alert from the server: ${alert.replace(/^\S+ alert /, '')} (${alert}${num ? `, alert ${num}` : ''})` : err.message.trim();
}

/** The body of a chunked HTTP/1.1 answer. */
function dechunk(raw: string): string {
  let out = '';
  let rest = raw;
  for (;;) {
    const nl = rest.indexOf('\r\n');
    const size = nl < 0 ? NaN : parseInt(rest.slice(0, nl), 16);
    if (!Number.isFinite(size) || size <= 0) return out;
    out += rest.slice(nl + 2, nl + 2 + size);
    rest = rest.slice(nl + 4 + size);
  }
}
