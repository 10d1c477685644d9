// k6 probe for the CPU-throttling scenario: bursty traffic. BURST virtual users wait for the same boundary of
// every INTERVAL_MS and send one query each at once, so the service gets a short burst of CPU work and then
// nothing: low average use, high peaks. Run by faultline's k6-bursts load probe, which sets TARGET_URL, BURST,
// INTERVAL_MS, DURATION and SUMMARY_FILE.
import http from 'k6/http';
import { sleep } from 'k6';
import type { Options } from 'k6/options';

// k6 provides console; @types/k6 does not declare it
declare const console: { warn(...args: unknown[]): void };

const url = __ENV.TARGET_URL ?? '';
const intervalMs = Number(__ENV.INTERVAL_MS ?? '1000');

export const options: Options = {
  summaryTrendStats: ['med', 'p(90)', 'p(99)', 'max'],
  scenarios: {
    bursts: {
      executor: 'constant-vus',
      vus: Number(__ENV.BURST ?? '6'),
      duration: __ENV.DURATION ?? '10s',
      gracefulStop: '5s',
    },
  },
};

let logged = 0;

export default function (): void {
  // every user sleeps to the next boundary, so all of them send together
  sleep((intervalMs - (Date.now() % intervalMs)) / 1000);
  const res = http.get(url, { timeout: '5s' });
  if (res.status !== 200 && logged < 3) {
    logged++;
    console.warn(`FAIL status ${res.status}${res.error ? ` error "${res.error}"` : ''}`);
  }
}

interface SummaryData {
  metrics: Record<string, { values: Record<string, number> } | undefined>;
}

export function handleSummary(data: SummaryData): Record<string, string> {
  const reqs = data.metrics['http_reqs']?.values['count'] ?? 0;
  const failed = data.metrics['http_req_failed']?.values['passes'] ?? 0;
  const d = data.metrics['http_req_duration']?.values ?? {};
  const latencyMs = { p50: d['med'] ?? 0, p90: d['p(90)'] ?? 0, p99: d['p(99)'] ?? 0, max: d['max'] ?? 0 };
  return { [__ENV.SUMMARY_FILE ?? 'summary.json']: JSON.stringify({ requests: reqs, failed, latencyMs }) };
}
