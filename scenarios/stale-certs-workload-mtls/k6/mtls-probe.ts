// k6 probe for the mutual-TLS scenario: a constant request rate to the frontend, each request on a new TLS
// connection presenting the probe's client certificate (tlsAuth). Run by faultline's k6-mtls load probe, which
// sets TARGET_URL, CERT_PEM, KEY_PEM (PEM text, in the environment only), RATE, DURATION and SUMMARY_FILE.
import http from 'k6/http';
import type { Options } from 'k6/options';

// k6 provides console; @types/k6 does not declare it
declare const console: { warn(...args: unknown[]): void };

const url = __ENV.TARGET_URL ?? '';

export const options: Options = {
  // k6 has no option for a private root CA; the probe checks the mutual-TLS path through the frontend (which
  // verifies the backend against its CA bundle), and its own client certificate must satisfy the frontend
  insecureSkipTLSVerify: true,
  noConnectionReuse: true,
  tlsAuth: [{ cert: __ENV.CERT_PEM ?? '', key: __ENV.KEY_PEM ?? '' }],
  scenarios: {
    probe: {
      executor: 'constant-arrival-rate',
      rate: Number(__ENV.RATE ?? '20'),
      timeUnit: '1s',
      duration: __ENV.DURATION ?? '10s',
      preAllocatedVUs: 10,
      maxVUs: 40,
    },
  },
};

let logged = 0;

export default function (): void {
  const res = http.get(url, { timeout: '5s' });
  if (res.status !== 200 && logged < 3) {
    logged++;
    const body = typeof res.body === 'string' ? (/<title>([^<]*)<\/title>/.exec(res.body)?.[1] ?? res.body.slice(0, 60)) : '';
    console.warn(`FAIL status ${res.status}${res.error ? ` error "${res.error}"` : ''}${body ? ` body "${body.trim()}"` : ''}`);
  }
}

interface SummaryData {
  metrics: Record<string, { values: Record<string, number> } | undefined>;
}

export function handleSummary(data: SummaryData): Record<string, string> {
  const reqs = data.metrics['http_reqs']?.values['count'] ?? 0;
  const failed = data.metrics['http_req_failed']?.values['passes'] ?? 0;
  return { [__ENV.SUMMARY_FILE ?? 'summary.json']: JSON.stringify({ requests: reqs, failed }) };
}
