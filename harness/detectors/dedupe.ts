import type { Finding } from './types.js';

/** Drops a generic finding (e.g. crashloop) when a specific finding already lists its resource: the
 *  crash-looping dependant is explained by the broken StatefulSet, not a second, vaguer root cause. */
export function dedupeFindings(findings: Finding[], genericDetectors: Set<string>): Finding[] {
  const explained = new Set(findings.filter((f) => !genericDetectors.has(f.detector)).flatMap((f) => f.resources));
  return findings.filter((f) => !genericDetectors.has(f.detector) || !explained.has(f.resources[0]!));
}
