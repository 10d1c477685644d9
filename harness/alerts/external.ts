// The team's own Prometheus and Alertmanager (--prometheus URL, --alertmanager URL): read-only, over plain HTTP(S)
// from this machine (an existing stack, or one reached through a port-forward). Nothing is deployed. Credentials
// in the URL (https://user:pass@host) become a Basic Authorization header and never appear in a message.
import { UserError } from '../core/errors.js';
import { alertsFrom, type AlertReader } from './watch.js';

export interface ExternalStack {
  prometheus: string;
  alertmanager?: string;
}

/** A base URL as given, checked: http or https, nothing after the path. Bad input otherwise. */
export function parseStackUrl(flag: string, raw: string): string {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new UserError(`${flag} ${JSON.stringify(safeUrl(raw))}: not a URL`, `e.g. ${flag} http://127.0.0.1:9090`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new UserError(`${flag} ${safeUrl(raw)}: only http and https are read`, `e.g. ${flag} http://127.0.0.1:9090`);
  if (u.search || u.hash) throw new UserError(`${flag} ${safeUrl(raw)}: give the base URL, with no query or fragment`, `e.g. ${flag} http://127.0.0.1:9090`);
  return raw.replace(/\/+$/, '');
}

/** The URL with any user and password taken out (for messages). */
export function safeUrl(raw: string): string {
  try {
    const u = new URL(raw);
    u.username = '';
    u.password = '';
    return u.toString().replace(/\/+$/, '');
  } catch {
    return raw.replace(/\/\/[^/@]*@/, '//');
  }
}

/** GET base+path as JSON; credentials in the base go in the header, not the request URL. */
export async function getJson(base: string, path: string, timeoutMs = 5_000): Promise<unknown> {
  const u = new URL(base + path);
  const headers: Record<string, string> = { accept: 'application/json' };
  if (u.username || u.password) {
    headers.authorization = `Basic ${Buffer.from(`${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}`).toString('base64')}`;
    u.username = '';
    u.password = '';
  }
  let res: Response;
  try {
    res = await fetch(u, { headers, signal: AbortSignal.timeout(timeoutMs) });
  } catch (err) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    const why = cause?.code ?? cause?.message ?? (err as Error).message;
    throw new Error(`GET ${u.origin}${path}: ${why}`);
  }
  if (!res.ok) throw new Error(`GET ${u.origin}${path}: HTTP ${res.status}`);
  return res.json();
}

/** The alert names the team's Prometheus has rules for (to check expected alerts before anything changes). */
export async function externalAlertNames(prometheus: string): Promise<string[]> {
  let body: { data?: { groups?: Array<{ rules?: Array<{ type?: string; name?: string }> }> } };
  try {
    body = (await getJson(prometheus, '/api/v1/rules?type=alert', 10_000)) as typeof body;
  } catch (err) {
    throw new UserError(`--prometheus ${safeUrl(prometheus)}: cannot read its rules: ${(err as Error).message}`, 'check the URL (a port-forward must be running), or drop --prometheus');
  }
  const groups = body.data?.groups;
  if (!Array.isArray(groups)) throw new UserError(`--prometheus ${safeUrl(prometheus)}: /api/v1/rules did not answer like Prometheus`, 'give the URL of the Prometheus server itself');
  return [...new Set(groups.flatMap((g) => (g.rules ?? []).filter((r) => r.type === 'alerting' && r.name).map((r) => r.name!)))].sort();
}

/** Reads the team's stack: Prometheus decides pending and firing; Alertmanager (when given) says what reached it. */
export function externalReader(stack: ExternalStack): AlertReader {
  const am = stack.alertmanager;
  return () => alertsFrom(() => getJson(stack.prometheus, '/api/v1/alerts'), am ? () => getJson(am, '/api/v2/alerts') : undefined);
}
