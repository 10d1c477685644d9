// Runs a k6 script (k6 runs TypeScript itself) and reads the summary its handleSummary writes.
import { readFileSync } from 'node:fs';
import { execa } from 'execa';
import { describeMissing, findBinary } from '../cluster/binaries.js';

export interface K6Summary {
  requests: number;
  failed: number;
}

export interface K6Outcome {
  summary: K6Summary;
  /** the script's console lines (k6 logfmt "msg" values) */
  messages: string[];
}

/** msg="..." values of k6's logfmt console lines. */
export function consoleMessages(stderr: string): string[] {
  const out: string[] = [];
  for (const line of stderr.split('\n')) {
    const m = /msg="((?:[^"\\]|\\.)*)"/.exec(line);
    if (m && /source=console/.test(line)) out.push(m[1]!.replace(/\\"/g, '"').replace(/\\\\/g, '\\'));
  }
  return out;
}

export async function runK6(script: string, env: Record<string, string>, summaryFile: string, opts: { signal: AbortSignal; timeoutMs: number }): Promise<K6Outcome> {
  const k6 = findBinary('k6', 'FAULTLINE_K6');
  if (!k6) throw new Error(`${describeMissing('k6', 'FAULTLINE_K6')}; run make forge`);
  const res = await execa(k6.path, ['run', '--quiet', '--no-color', '--no-usage-report', script], {
    env: { ...env, SUMMARY_FILE: summaryFile, K6_NO_USAGE_REPORT: 'true' },
    extendEnv: false,
    reject: false,
    cancelSignal: opts.signal,
    timeout: opts.timeoutMs,
    all: false,
  });
  let summary: K6Summary;
  try {
    summary = JSON.parse(readFileSync(summaryFile, 'utf8')) as K6Summary;
  } catch {
    throw new Error(`k6 ${script} wrote no summary (exit ${res.exitCode ?? res.signal}): ${String(res.stderr).split('\n').slice(-3).join(' | ')}`);
  }
  return { summary, messages: consoleMessages(String(res.stderr)) };
}
