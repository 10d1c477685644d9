// Runs a k6 script (k6 runs TypeScript itself) and reads the summary its handleSummary writes.
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { execa } from 'execa';
import { describeMissing, findBinary } from '../cluster/binaries.js';
import type { RunContext } from '../cluster/context.js';
import { sleep } from '../core/poll.js';
import type { LoadPhase, LoadResult } from './types.js';

export interface K6Summary {
  requests: number;
  failed: number;
  /** http_req_duration percentiles, where the script's summary has them */
  latencyMs?: { p50: number; p90: number; p99: number; max: number };
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

/** The URL k6 on the host reaches a Service at: its NodePort on a node's InternalIP. */
export async function nodePortUrl(ctx: RunContext, namespace: string, service: string, port: string, path: string, scheme: 'http' | 'https'): Promise<string> {
  const core = ctx.kube.core;
  const svc = await core.readNamespacedService({ name: service, namespace });
  const nodePort = svc.spec?.ports?.find((x) => x.name === port || String(x.port) === port)?.nodePort;
  if (!nodePort) throw new Error(`Service ${namespace}/${service} has no NodePort for port ${port}`);
  const nodes = (await core.listNode()).items;
  const ip = nodes.flatMap((n) => n.status?.addresses ?? []).find((a) => a.type === 'InternalIP')?.address;
  if (!ip) throw new Error('no node has an InternalIP');
  return `${scheme}://${ip}:${nodePort}${path}`;
}

/** The FAIL lines a probe script logged (distinct, at most five). */
export function failures(messages: string[]): string[] {
  return [...new Set(messages.filter((m) => m.startsWith('FAIL ')).map((m) => m.slice(5)))].slice(0, 5);
}

/** What one k6 run measured, as the report keeps it (latency rounded to 0.1 ms where the script measured it). */
export function loadResult(probe: string, phase: LoadPhase, target: string, startedAt: Date, out: K6Outcome): LoadResult {
  const { requests, failed, latencyMs } = out.summary;
  const r = (x: number) => Math.round(x * 10) / 10;
  return {
    probe,
    phase,
    target,
    startedAt: startedAt.toISOString(),
    seconds: Math.round((Date.now() - startedAt.getTime()) / 100) / 10,
    requests,
    failed,
    failureRate: requests ? Math.round((failed / requests) * 10_000) / 10_000 : 0,
    errors: failures(out.messages),
    ...(latencyMs ? { latencyMs: { p50: r(latencyMs.p50), p90: r(latencyMs.p90), p99: r(latencyMs.p99), max: r(latencyMs.max) } } : {}),
  };
}

/** One TCP connect to host:port within timeoutMs. */
function accepts(host: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect({ host, port, timeout: timeoutMs });
    const done = (ok: boolean) => {
      sock.destroy();
      resolve(ok);
    };
    sock.once('connect', () => done(true));
    sock.once('timeout', () => done(false));
    sock.once('error', () => done(false));
  });
}

/** Waits (at most withinMs) until the target URL's host and port accept a TCP connection; returns the seconds it
 *  waited, or undefined if they never did. A NodePort is refused until kube-proxy has programmed the Service's
 *  endpoints, which can lag the pods' readiness by seconds (more after the API server restarted): traffic before
 *  the fault must measure the workload, not that lag. */
export async function waitReachable(url: string, withinMs: number, signal?: AbortSignal): Promise<number | undefined> {
  const u = new URL(url);
  const port = Number(u.port || (u.protocol === 'https:' ? 443 : 80));
  const t0 = Date.now();
  while (Date.now() - t0 < withinMs) {
    if (signal?.aborted) return undefined;
    if (await accepts(u.hostname, port, 2_000)) return (Date.now() - t0) / 1000;
    // each look is one TCP connect: twice a second finds the open port within half a second of its opening
    await sleep(500, signal).catch(() => undefined);
  }
  return undefined;
}

/** Before the fault: wait up to 60 s for the target to accept connections, saying so when it had to wait. */
export async function reachableFirst(ctx: RunContext, target: string, signal?: AbortSignal): Promise<void> {
  const waited = await waitReachable(target, 60_000, signal);
  if (waited === undefined) ctx.log(`${target} accepts no connection after 60 s; measuring anyway`);
  else if (waited >= 1) ctx.log(`${target} accepted a connection after ${waited.toFixed(1)} s (kube-proxy programming the Service)`);
}
