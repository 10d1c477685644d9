// Every output format goes through redactDeep first, so no renderer can leak a secret on its own.
import { renderHtml } from './html.js';
import { renderJUnit } from './junit.js';
import { renderMarkdown } from './markdown.js';
import { redactDeep } from '../core/redact.js';
import { renderText } from './text.js';
import type { Report } from './types.js';

export const FORMATS = ['text', 'json', 'junit', 'markdown', 'html'] as const;
export type Format = (typeof FORMATS)[number];

export function render(report: Report, format: Format): string {
  const safe = redactDeep(report);
  switch (format) {
    case 'json':
      return JSON.stringify(safe, null, 2) + '\n';
    case 'junit':
      return renderJUnit(safe);
    case 'markdown':
      return renderMarkdown(safe);
    case 'html':
      return renderHtml(safe);
    case 'text':
      return renderText(safe);
  }
}

/** The files `--report-dir` writes. */
export const REPORT_FILES: Array<[string, Format]> = [
  ['report.json', 'json'],
  ['junit.xml', 'junit'],
  ['report.md', 'markdown'],
  ['report.html', 'html'],
];
