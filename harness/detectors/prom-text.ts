// Prometheus text exposition: just enough to read etcd's and the API server's histograms and counters.
// Pure functions, tested on fixture text.

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
  /** the exposition's own timestamp (epoch ms) where the line has one: cAdvisor stamps when it read the cgroup */
  at?: number;
}

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)(?:\s+(-?\d+))?/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

/** The lines of text that start with one of the prefixes, found by search rather than by splitting it all. */
function linesStartingWith(text: string, prefixes: string[]): string[] {
  // by where each line starts: a line two prefixes match is taken once
  const lines = new Map<number, string>();
  for (const p of prefixes) {
    for (let i = text.startsWith(p) ? 0 : text.indexOf(`\n${p}`); i !== -1; i = text.indexOf(`\n${p}`, i + 1)) {
      const start = text[i] === '\n' ? i + 1 : i;
      const end = text.indexOf('\n', start);
      lines.set(start, text.slice(start, end === -1 ? undefined : end));
      if (end === -1) break;
      i = end - 1;
    }
  }
  return [...lines.values()];
}

/** Every sample of the text; with `prefixes`, only the metrics whose names start with one of them (the API
 *  server's /metrics is megabytes, and a scan needs two of its histograms). */
export function parseProm(text: string, prefixes?: string[]): Sample[] {
  const out: Sample[] = [];
  for (const raw of prefixes ? linesStartingWith(text, prefixes) : text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const m = LINE.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[3] ?? '').matchAll(LABEL)) labels[l[1]!] = l[2]!;
    const value = m[4] === '+Inf' ? Infinity : Number(m[4]);
    if (Number.isNaN(value)) continue;
    out.push(m[5] ? { name: m[1]!, labels, value, at: Number(m[5]) } : { name: m[1]!, labels, value });
  }
  return out;
}

/** Cumulative buckets (upper bound → count), summed over every series of the histogram that matches `filter`. */
export interface Histogram {
  buckets: Array<{ le: number; count: number }>;
  count: number;
  sum: number;
}

export function histogram(samples: Sample[], name: string, filter: (labels: Record<string, string>) => boolean = () => true): Histogram | undefined {
  const byLe = new Map<number, number>();
  let count = 0;
  let sum = 0;
  let seen = false;
  for (const s of samples) {
    if (!filter(s.labels)) continue;
    if (s.name === `${name}_bucket`) {
      const le = s.labels.le === '+Inf' ? Infinity : Number(s.labels.le);
      if (Number.isNaN(le)) continue;
      byLe.set(le, (byLe.get(le) ?? 0) + s.value);
      seen = true;
    } else if (s.name === `${name}_count`) count += s.value;
    else if (s.name === `${name}_sum`) sum += s.value;
  }
  if (!seen) return undefined;
  const buckets = [...byLe.entries()].sort((a, b) => a[0] - b[0]).map(([le, c]) => ({ le, count: c }));
  return { buckets, count: count || buckets[buckets.length - 1]!.count, sum };
}

/** later − earlier, bucket by bucket (a counter reset, e.g. a restarted etcd, makes the later value the delta). */
export function deltaHistogram(later: Histogram, earlier: Histogram | undefined): Histogram {
  if (!earlier) return later;
  const prev = new Map(earlier.buckets.map((b) => [b.le, b.count]));
  const reset = later.count < earlier.count;
  return {
    buckets: later.buckets.map((b) => ({ le: b.le, count: reset ? b.count : Math.max(0, b.count - (prev.get(b.le) ?? 0)) })),
    count: reset ? later.count : Math.max(0, later.count - earlier.count),
    sum: reset ? later.sum : Math.max(0, later.sum - earlier.sum),
  };
}

/** Prometheus' histogram_quantile: linear interpolation inside the bucket holding the q-th observation.
 *  Undefined without observations; the highest finite bound when the rank falls into +Inf. */
export function quantile(q: number, h: Histogram): number | undefined {
  const total = h.buckets.length ? h.buckets[h.buckets.length - 1]!.count : 0;
  if (total <= 0) return undefined;
  const rank = q * total;
  let prevLe = 0;
  let prevCount = 0;
  for (const b of h.buckets) {
    if (b.count >= rank) {
      if (b.le === Infinity) return prevLe;
      if (b.count === prevCount) return b.le;
      return prevLe + ((b.le - prevLe) * (rank - prevCount)) / (b.count - prevCount);
    }
    prevLe = b.le;
    prevCount = b.count;
  }
  return prevLe;
}

/** Observations above `threshold` seconds, counted from the first bucket bound at or above it (a lower bound). */
export function countAbove(h: Histogram, threshold: number): number {
  const total = h.buckets.length ? h.buckets[h.buckets.length - 1]!.count : 0;
  const at = h.buckets.find((b) => b.le >= threshold);
  return at ? total - at.count : 0;
}

export function counter(samples: Sample[], name: string): number | undefined {
  const hits = samples.filter((s) => s.name === name);
  return hits.length ? hits.reduce((n, s) => n + s.value, 0) : undefined;
}

export function fmtSeconds(s: number | undefined): string {
  if (s === undefined) return 'n/a';
  return s >= 1 ? `${s.toFixed(2)} s` : `${(s * 1000).toFixed(s < 0.01 ? 1 : 0)} ms`;
}
