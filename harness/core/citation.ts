// How a scenario cites the incident it replays: as a reader can find it (title, author or site, date, URL
// where the source gives one), never as a path of ours.
import { z } from 'zod';

export const CitationSchema = z
  .object({
    title: z
      .string()
      .min(1)
      .refine((t) => !/(^|\/)\.\.\/|\.txt$/.test(t), 'a title, not a path to a file'),
    /** the entry or section, when the source holds several incidents */
    part: z.string().min(1).optional(),
    author: z.string().min(1).optional(),
    site: z.string().min(1).optional(),
    /** YYYY-MM-DD, or "undated" */
    date: z.string().regex(/^(\d{4}-\d\d-\d\d|undated)$/, 'YYYY-MM-DD or "undated"'),
    url: z.string().regex(/^https:\/\/[^\s/]+\.[^\s]+$/, 'an https URL').optional(),
    /** "adapted": the scenario takes the source's mechanism to another place rather than replaying it */
    relation: z.enum(['replays', 'adapted']).default('replays'),
  })
  .strict();

export type Citation = z.infer<typeof CitationSchema>;

/** A citation needs something to find the source by beyond its title. */
export function citationGap(c: Citation): string | undefined {
  return c.author || c.site || c.url ? undefined : 'a citation names an author, a site or a URL';
}

/** '"Title" (part), author, site, 2023-07-29, https://...' */
export function citationText(c: Citation): string {
  return [`"${c.title}"${c.part ? ` (${c.part})` : ''}`, c.author, c.site, c.date, c.url].filter(Boolean).join(', ');
}
