// Writes a row keyed by the run id into PostgreSQL before the fault and reads it back after the runbook.
// psql runs inside the database pod through the API's exec endpoint; a password, if needed, goes over stdin
// so it never appears in an argv.
import { z } from 'zod';
import { execInPod } from '../cluster/pod-exec.js';
import type { RunContext } from '../cluster/context.js';
import type { IntegrityCheck, IntegrityResult } from './types.js';

export const PostgresMarkerParams = z
  .object({
    namespace: z.string().min(1),
    pod: z.string().optional(),
    statefulset: z.string().optional(),
    container: z.string().min(1),
    database: z.string().default('postgres'),
    user: z.string().default('postgres'),
    table: z.string().regex(/^[a-z_][a-z0-9_]*$/).default('faultline_marker'),
    passwordSecret: z.object({ name: z.string(), key: z.string() }).optional(),
  })
  .strict()
  .refine((p) => p.pod || p.statefulset, { message: 'needs pod or statefulset' });
export type PostgresMarkerParams = z.infer<typeof PostgresMarkerParams>;

/** Run ids go into SQL literals; only these characters are allowed in them. */
export function safeRunId(runId: string): string {
  if (!/^[A-Za-z0-9_-]+$/.test(runId)) throw new Error(`run id ${JSON.stringify(runId)} is not safe for SQL`);
  return runId;
}

export function writeSql(table: string, runId: string): string {
  const id = safeRunId(runId);
  return (
    `CREATE TABLE IF NOT EXISTS ${table} (run_id text PRIMARY KEY, written_at timestamptz NOT NULL DEFAULT now());` +
    `INSERT INTO ${table} (run_id) VALUES ('${id}') ON CONFLICT (run_id) DO NOTHING;` +
    `SELECT count(*) FROM ${table} WHERE run_id = '${id}';`
  );
}

export function checkSql(table: string, runId: string): string {
  return `SELECT count(*) FROM ${table} WHERE run_id = '${safeRunId(runId)}';`;
}

async function password(ctx: RunContext, p: PostgresMarkerParams): Promise<string | undefined> {
  if (!p.passwordSecret) return undefined;
  const secret = await ctx.kube.core.readNamespacedSecret({ name: p.passwordSecret.name, namespace: p.namespace });
  const b64 = secret.data?.[p.passwordSecret.key];
  if (!b64) throw new Error(`Secret ${p.namespace}/${p.passwordSecret.name} has no key ${p.passwordSecret.key}`);
  return Buffer.from(b64, 'base64').toString('utf8');
}

async function psql(ctx: RunContext, p: PostgresMarkerParams, sql: string): Promise<string> {
  const pod = p.pod ?? `${p.statefulset}-0`;
  const pw = await password(ctx, p);
  const psqlArgs = `psql -v ON_ERROR_STOP=1 -tA -U "$1" -d "$2" -c "$3"`;
  // sh reads the password from stdin (when there is one) so it stays out of argv and the process list
  const script = pw !== undefined ? `IFS= read -r PGPASSWORD; export PGPASSWORD; exec ${psqlArgs}` : `exec ${psqlArgs}`;
  const res = await execInPod(
    ctx.kube.kc,
    { namespace: p.namespace, pod, container: p.container },
    ['sh', '-c', script, 'psql', p.user, p.database, sql],
    { ...(pw !== undefined ? { input: pw + '\n' } : {}), timeoutMs: 30_000 },
  );
  if (res.exitCode !== 0) throw new Error(`psql in ${p.namespace}/${pod} exited ${res.exitCode}: ${res.stderr.trim().split('\n').pop()}`);
  return res.stdout.trim();
}

export const postgresMarker: IntegrityCheck<PostgresMarkerParams> = {
  id: 'postgres-marker',
  description: 'a row keyed by the run id, written to PostgreSQL before the fault and read back after recovery',
  paramsSchema: PostgresMarkerParams as unknown as z.ZodType<PostgresMarkerParams>,

  async write(ctx, p): Promise<IntegrityResult> {
    const out = await psql(ctx, p, writeSql(p.table, ctx.runId));
    const ok = out.split('\n').pop() === '1';
    return { check: 'postgres-marker', phase: 'write', ok, details: ok ? `marker ${ctx.runId} written to ${p.table}` : `write returned ${out}` };
  },

  async check(ctx, p): Promise<IntegrityResult> {
    const out = await psql(ctx, p, checkSql(p.table, ctx.runId));
    const ok = out === '1';
    return {
      check: 'postgres-marker',
      phase: 'check',
      ok,
      details: ok ? `marker ${ctx.runId} still in ${p.table}` : `marker ${ctx.runId} missing from ${p.table} (count ${out})`,
    };
  },
};
