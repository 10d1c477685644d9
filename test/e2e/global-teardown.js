// Deletes the shared clusters the e2e files left in the pool (cluster-pool.ts) through the built CLI, then the pool's
// folder; FAULTLINE_KEEP_CLUSTER keeps both for a look.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';

export default async function globalTeardown() {
  const pool = process.env.FAULTLINE_E2E_POOL;
  if (!pool || !existsSync(pool)) return;
  if (process.env.FAULTLINE_KEEP_CLUSTER) {
    process.stderr.write(`[pool] kept the shared clusters; their state dir is ${join(pool, 'state')}\n`);
    return;
  }
  const cli = join(process.cwd(), 'dist', 'harness', 'cli', 'main.js');
  for (const f of readdirSync(pool).filter((n) => n.endsWith('.cluster'))) {
    const name = readFileSync(join(pool, f), 'utf8').trim();
    const r = spawnSync(process.execPath, [cli, 'cluster', 'down', name], { env: { ...process.env, FAULTLINE_STATE_DIR: join(pool, 'state') }, encoding: 'utf8' });
    process.stderr.write(`[pool] ${r.status === 0 ? r.stdout.trim() : `could not delete ${name}: ${r.stderr.trim()}`}\n`);
  }
  rmSync(pool, { recursive: true, force: true });
}
