// `faultline report merge`: the reports of a sharded run's jobs joined into one, so a CI system shows one JSON,
// JUnit, Markdown and HTML report for the whole catalog. A scenario that two inputs both ran is refused: a
// sharded run gives each scenario to exactly one job, so a duplicate means the inputs are not one run's shards.
import type { Report } from './types.js';

export class MergeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MergeError';
  }
}

export function mergeReports(reports: Array<{ source: string; report: Report }>): Report {
  if (reports.length === 0) throw new MergeError('no report to merge');
  const seen = new Map<string, string>();
  for (const { source, report } of reports) {
    for (const sc of report.scenarios) {
      const other = seen.get(sc.id);
      if (other) throw new MergeError(`scenario ${sc.id} is in both ${other} and ${source}`);
      seen.set(sc.id, source);
    }
  }
  const all = reports.map((r) => r.report);
  const first = all[0]!;
  const interrupted = all.map((r) => r.interrupted).filter((i): i is string => !!i);
  const clusters = [...new Set(all.map((r) => r.cluster.name))];
  const providers = [...new Set(all.map((r) => r.cluster.provider))];
  const images = [...new Set(all.map((r) => r.cluster.nodeImage).filter((i): i is string => !!i))];
  return {
    schemaVersion: 1,
    tool: first.tool,
    runId: all.map((r) => r.runId).join('+'),
    startedAt: all.map((r) => r.startedAt).sort()[0]!,
    endedAt: all.map((r) => r.endedAt).sort().at(-1)!,
    cluster: { provider: providers.join(','), name: clusters.join(','), ...(images.length ? { nodeImage: images.join(',') } : {}) },
    ...(interrupted.length ? { interrupted: [...new Set(interrupted)].join(', ') } : {}),
    scenarios: all.flatMap((r) => r.scenarios).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)),
  };
}
