// Picks the kind node image and says why, so a run on an offline machine is explainable from its log.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../core/paths.js';

export interface ImageChoice {
  /** undefined means: let kind use its own default (stock kindest/node) */
  image?: string;
  reason: string;
}

/** Parses a KEY=value file (comments and blank lines ignored, no shell expansion). */
export function parseEnvFile(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const eq = line.indexOf('=');
    if (eq <= 0) continue;
    out[line.slice(0, eq).trim()] = line.slice(eq + 1).trim().replace(/^["']|["']$/g, '');
  }
  return out;
}

export function forgedKubernetesVersion(versionsFile = join(repoRoot(), 'images', 'versions.env')): string | undefined {
  if (!existsSync(versionsFile)) return undefined;
  return parseEnvFile(readFileSync(versionsFile, 'utf8')).KUBERNETES_VERSION;
}

export interface ResolveImageOptions {
  explicit?: string;
  env?: NodeJS.ProcessEnv;
  kubernetesVersion?: string;
  imageExists(ref: string): Promise<boolean>;
}

/** Order: explicit --image, $FAULTLINE_NODE_IMAGE, the forged faultline/kind-node:<version> if present locally,
 *  else kind's default. */
export async function resolveNodeImage(opts: ResolveImageOptions): Promise<ImageChoice> {
  const env = opts.env ?? process.env;
  if (opts.explicit) return { image: opts.explicit, reason: 'given with --image' };
  if (env.FAULTLINE_NODE_IMAGE) return { image: env.FAULTLINE_NODE_IMAGE, reason: 'from $FAULTLINE_NODE_IMAGE' };
  if (opts.kubernetesVersion) {
    const forged = `faultline/kind-node:${opts.kubernetesVersion}`;
    if (await opts.imageExists(forged)) {
      return { image: forged, reason: `forged image found locally (KUBERNETES_VERSION from images/versions.env)` };
    }
    return { reason: `forged image ${forged} not built here; using kind's default node image` };
  }
  return { reason: "images/versions.env has no KUBERNETES_VERSION; using kind's default node image" };
}
