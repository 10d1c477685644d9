// Comparing API objects by value.
import { isDeepStrictEqual } from 'node:util';

/** Equal as JSON: the API client hands back class instances, which a strict deep-equal never matches to a literal. */
export function sameJson(a: unknown, b: unknown): boolean {
  return isDeepStrictEqual(JSON.parse(JSON.stringify(a ?? null)), JSON.parse(JSON.stringify(b ?? null)));
}
