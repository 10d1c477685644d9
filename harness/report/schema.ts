// Validates a report.json read back from disk (for `faultline report`), so old or foreign files fail clearly.
import { z } from 'zod';
import type { Report } from './types.js';

const Stage = z.object({
  name: z.string(),
  status: z.enum(['passed', 'failed', 'skipped', 'interrupted']),
  startedAt: z.string(),
  endedAt: z.string(),
  durationSeconds: z.number(),
  deadlineSeconds: z.number(),
  message: z.string().optional(),
});

export const ReportSchema = z.object({
  schemaVersion: z.literal(1),
  tool: z.object({ name: z.literal('faultline'), version: z.string() }),
  runId: z.string(),
  startedAt: z.string(),
  endedAt: z.string(),
  cluster: z.object({ provider: z.string(), name: z.string(), nodeImage: z.string().optional() }),
  interrupted: z.string().optional(),
  scenarios: z.array(
    z.object({
      id: z.string(),
      title: z.string(),
      status: z.enum(['passed', 'failed', 'skipped']),
      reason: z.string().optional(),
      ttdSeconds: z.number().nullable(),
      ttrSeconds: z.number().nullable(),
      confirmedAfterSeconds: z.number().optional(),
      recovery: z.enum(['runbook', 'self', 'drill']).optional(),
      standardAlert: z.object({ name: z.string(), waitSeconds: z.number(), note: z.string().optional() }),
      stages: z.array(Stage),
      findings: z.array(z.object({ detector: z.string(), summary: z.string(), rootCause: z.string(), evidence: z.array(z.string()), runbook: z.string() })),
      integrity: z.array(z.object({ check: z.string(), phase: z.enum(['write', 'check']), ok: z.boolean(), details: z.string() })),
    }).passthrough(),
  ),
});

export function parseReport(json: unknown): Report {
  return ReportSchema.parse(json) as unknown as Report;
}
