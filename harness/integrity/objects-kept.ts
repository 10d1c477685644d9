// Proves a fix took only what it had to: objects that must outlive the incident (the volumes still in use, next
// to the one that had to be deleted) are annotated with the run id before the fault and must be found, still
// annotated, after the runbook: an object deleted and made again from its manifest carries no such annotation.
import { z } from 'zod';
import { PatchStrategy } from '@kubernetes/client-node';
import { isNotFound } from '../cluster/kube.js';
import type { RunContext } from '../cluster/context.js';
import type { IntegrityCheck, IntegrityResult } from './types.js';

export const ObjectsKeptParams = z
  .object({
    namespace: z.string().min(1),
    apiVersion: z.string().min(1),
    kind: z.string().min(1),
    names: z.array(z.string().min(1)).min(1),
  })
  .strict();
export type ObjectsKeptParams = z.infer<typeof ObjectsKeptParams>;

const MARK = 'faultline/kept-by-run';

const spec = (p: ObjectsKeptParams, name: string) => ({ apiVersion: p.apiVersion, kind: p.kind, metadata: { name, namespace: p.namespace } });

async function each(ctx: RunContext, p: ObjectsKeptParams, phase: 'write' | 'check'): Promise<IntegrityResult> {
  const lines: string[] = [];
  let ok = true;
  for (const name of p.names) {
    try {
      if (phase === 'write') await ctx.kube.objects.patch({ ...spec(p, name), metadata: { ...spec(p, name).metadata, annotations: { [MARK]: ctx.runId } } }, undefined, undefined, 'faultline', undefined, PatchStrategy.MergePatch);
      const o = await ctx.kube.objects.read(spec(p, name));
      const mark = o.metadata?.annotations?.[MARK];
      const fine = mark === ctx.runId;
      ok &&= fine;
      lines.push(`${p.kind} ${p.namespace}/${name} ${fine ? 'marked' : `mark ${mark ?? '(none)'}, want ${ctx.runId}`}`);
    } catch (err) {
      if (!isNotFound(err)) throw err;
      ok = false;
      lines.push(`${p.kind} ${p.namespace}/${name} is gone`);
    }
  }
  return { check: 'objects-kept', phase, ok, details: lines.join('; ') };
}

export const objectsKept: IntegrityCheck<ObjectsKeptParams> = {
  id: 'objects-kept',
  description: 'named objects marked with the run id before the fault and found, still marked, after recovery',
  paramsSchema: ObjectsKeptParams,
  write: (ctx, p) => each(ctx, p, 'write'),
  check: (ctx, p) => each(ctx, p, 'check'),
};
