// Which alerts were pending and firing during a fault, and when: Prometheus' /api/v1/alerts and Alertmanager's
// /api/v2/alerts read every few seconds through the API server's service proxy, each alert's first pending and first
// firing time kept (Prometheus' activeAt for pending; the first read that saw it firing for firing). The report's
// entries are computed from that record by a pure function.
import { apiRawGet } from '../cluster/api-raw.js';
import type { KubeConfig } from '@kubernetes/client-node';
import { sleep } from '../core/poll.js';
import { ALERTMANAGER_PORT, PROMETHEUS_PORT, alertmanagerApi, prometheusApi } from './manifests.js';

export type AlertSource = 'builtin' | 'user' | 'external';
export type AlertState = 'fired' | 'pending' | 'not-fired' | 'not-evaluable';

export interface ExpectedAlert {
  name: string;
  /** seconds from the end of inject */
  within: number;
}

export interface AlertReport {
  name: string;
  source: AlertSource;
  state: AlertState;
  /** seconds from the end of inject; absent when it never was */
  pendingAfterSeconds?: number;
  firedAfterSeconds?: number;
  /** whether Alertmanager had it (firing alerts only) */
  inAlertmanager?: boolean;
  expectedWithin?: number;
  note?: string;
}

export interface Seen {
  /** ms epoch */
  pendingAt?: number;
  firedAt?: number;
  inAlertmanager?: boolean;
}

export interface PromAlert {
  labels: { alertname: string };
  state: 'pending' | 'firing' | 'inactive';
  activeAt?: string;
}

/** Folds one read of Prometheus' and Alertmanager's alerts into the record (first times win). */
export function observe(seen: Map<string, Seen>, prom: PromAlert[], amNames: Set<string>, at: number): void {
  for (const a of prom) {
    if (a.state === 'inactive') continue;
    const s = seen.get(a.labels.alertname) ?? {};
    const active = a.activeAt ? Date.parse(a.activeAt) : at;
    s.pendingAt = Math.min(s.pendingAt ?? Infinity, Number.isFinite(active) ? active : at);
    if (a.state === 'firing') s.firedAt ??= at;
    if (amNames.has(a.labels.alertname)) s.inAlertmanager = true;
    seen.set(a.labels.alertname, s);
  }
}

const after = (t: number | undefined, from: number) => (t === undefined ? undefined : Math.max(0, Math.round((t - from) / 10) / 100));

/** The report's alert entries: every expected alert (fired, pending, not-fired or not-evaluable), then every other
 *  alert that was pending or firing. */
export function alertReports(opts: {
  seen: Map<string, Seen>;
  injectEnd: number;
  expected: ExpectedAlert[];
  sourceOf(name: string): AlertSource | undefined;
  notEvaluable: Record<string, string>;
}): AlertReport[] {
  const out: AlertReport[] = [];
  const entry = (name: string, expectedWithin?: number): AlertReport => {
    const s = opts.seen.get(name);
    const source = opts.sourceOf(name) ?? 'external';
    const why = opts.notEvaluable[name];
    if (why && !s) return { name, source, state: 'not-evaluable', note: why, ...(expectedWithin !== undefined ? { expectedWithin } : {}) };
    const fired = after(s?.firedAt, opts.injectEnd);
    const pending = after(s?.pendingAt, opts.injectEnd);
    const inTime = fired !== undefined && (expectedWithin === undefined || fired <= expectedWithin);
    const state: AlertState = inTime ? 'fired' : pending !== undefined && fired === undefined ? 'pending' : 'not-fired';
    const note =
      !opts.sourceOf(name) && !s ? 'no rule of this stack defines it' : fired !== undefined && !inTime ? `fired after ${fired}s, later than the ${expectedWithin}s expected` : undefined;
    return {
      name,
      source,
      state,
      ...(pending !== undefined ? { pendingAfterSeconds: pending } : {}),
      ...(fired !== undefined ? { firedAfterSeconds: fired } : {}),
      ...(s?.inAlertmanager ? { inAlertmanager: true } : {}),
      ...(expectedWithin !== undefined ? { expectedWithin } : {}),
      ...(note ? { note } : {}),
    };
  };
  for (const e of opts.expected) out.push(entry(e.name, e.within));
  for (const name of [...opts.seen.keys()].sort()) if (!opts.expected.some((e) => e.name === name)) out.push(entry(name));
  return out;
}

/** Whether every expected alert has fired (the fault can go) or can no longer fire in time. */
export function expectationsSettled(seen: Map<string, Seen>, expected: ExpectedAlert[], injectEnd: number, now: number, notEvaluable: Record<string, string>): boolean {
  return expected.every((e) => seen.get(e.name)?.firedAt !== undefined || notEvaluable[e.name] !== undefined || now - injectEnd >= e.within * 1000);
}

/** One read of a stack's alerts: Prometheus' (pending and firing) and the names Alertmanager holds. */
export type AlertReader = () => Promise<{ prom: PromAlert[]; am: Set<string> }>;

const NODE_SPLIT = '---faultline-alertmanager---';
/** Both APIs read with curl on the node the stack runs on (it has the host's network there). */
export const NODE_READ = `curl -sf -m 5 http://127.0.0.1:${PROMETHEUS_PORT}/api/v1/alerts; echo; echo '${NODE_SPLIT}'; curl -sf -m 5 http://127.0.0.1:${ALERTMANAGER_PORT}/api/v2/alerts || true`;

/** Both answers of one node command (NODE_READ). */
export function parseNodeRead(stdout: string): Promise<{ prom: PromAlert[]; am: Set<string> }> {
  const [promText = '', amText = ''] = stdout.split(NODE_SPLIT);
  return alertsFrom(async () => JSON.parse(promText), async () => JSON.parse(amText));
}

/** One read of a stack, whatever carries it: Prometheus' answer decides (its failure fails the read);
 *  Alertmanager's is extra, and is left out when it fails. */
export async function alertsFrom(prom: () => Promise<unknown>, am?: () => Promise<unknown>): Promise<{ prom: PromAlert[]; am: Set<string> }> {
  const alerts = ((await prom()) as { data: { alerts: PromAlert[] } }).data.alerts;
  let names = new Set<string>();
  if (am) {
    try {
      names = new Set(((await am()) as Array<{ labels: { alertname: string } }>).map((a) => a.labels.alertname));
    } catch {
      // Alertmanager's view is extra: Prometheus' is the one that decides
    }
  }
  return { prom: alerts, am: names };
}

/** The stack a run deployed: through the API server's service proxy; when that fails (a fault that takes the API
 *  server down) and a node command can be run, with curl on the node Prometheus runs on, so the alerts of a
 *  control-plane outage are seen while it lasts. */
export function clusterStackReader(kc: KubeConfig, onNode?: (script: string) => Promise<string>): AlertReader {
  return async () => {
    try {
      return await readAlerts(kc);
    } catch (err) {
      if (!onNode) throw err;
      try {
        return parseNodeRead(await onNode(NODE_READ));
      } catch (nodeErr) {
        throw new Error(`${(err as Error).message.split('\n')[0]}; on the node: ${(nodeErr as Error).message.split('\n')[0]}`);
      }
    }
  };
}

export function readAlerts(kc: KubeConfig): Promise<{ prom: PromAlert[]; am: Set<string> }> {
  const get = (path: string) => async () => JSON.parse(await apiRawGet(kc, path, 5_000)) as unknown;
  return alertsFrom(get(prometheusApi('/api/v1/alerts')), get(alertmanagerApi('/api/v2/alerts')));
}

/** Reads alerts every intervalMs until stopped; read errors (an API server the fault slows) are logged and retried. */
export class AlertWatch {
  readonly seen = new Map<string, Seen>();
  private stopped = false;
  /** ends the wait between reads at once when the watch is stopped */
  private readonly wake = new AbortController();
  private loop: Promise<void> | undefined;
  lastError: string | undefined;

  constructor(
    private readonly read: AlertReader,
    private readonly intervalMs = 3_000,
  ) {}

  /** names of the alerts firing at the last good read */
  firingNow: string[] = [];

  start(): void {
    this.loop = (async () => {
      while (!this.stopped) {
        await this.readOnce();
        await sleep(this.intervalMs, this.wake.signal).catch(() => {});
      }
    })();
  }

  async readOnce(): Promise<void> {
    try {
      const { prom, am } = await this.read();
      observe(this.seen, prom, am, Date.now());
      this.firingNow = [...new Set(prom.filter((a) => a.state === 'firing').map((a) => a.labels.alertname))].sort();
      this.lastError = undefined;
    } catch (err) {
      this.lastError = (err as Error).message.split('\n')[0];
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.wake.abort();
    await this.loop;
    await this.readOnce();
  }
}
