// A team's own alert rules (--alert-rules FILE...): Prometheus rule files (`groups:`) or PrometheusRule manifests
// (`spec.groups`), read and checked with promtool before a run changes anything, so a bad file is one line and
// exit 2 with the cluster untouched.
import { execa } from 'execa';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments, stringify } from 'yaml';
import { describeMissing, findBinary } from '../cluster/binaries.js';
import { UserError } from '../core/errors.js';
import { InputFileError, readRegularFile } from '../core/files.js';
import type { AlertRule, RuleGroup } from './standard-rules.js';

export interface UserRules {
  /** the files' groups, each group name prefixed with its file's position so two files may reuse a name */
  groups: RuleGroup[];
  /** every alert the files define */
  alerts: string[];
}

function groupsOf(doc: unknown, file: string): RuleGroup[] {
  const d = doc as { groups?: unknown; kind?: unknown; spec?: { groups?: unknown } } | null;
  const groups = d?.kind === 'PrometheusRule' ? d.spec?.groups : d?.groups;
  if (!Array.isArray(groups)) throw new UserError(`${file}: neither a Prometheus rule file (groups:) nor a PrometheusRule manifest (spec.groups)`, 'give a rule file promtool accepts');
  return groups as RuleGroup[];
}

/** The groups of one file's text (every YAML document in it); throws UserError naming the file. */
export function parseRuleText(text: string, file: string): RuleGroup[] {
  const docs = parseAllDocuments(text);
  const out: RuleGroup[] = [];
  for (const d of docs) {
    if (d.errors.length) throw new UserError(`${file}: not YAML (${d.errors[0]!.message.split('\n')[0]})`, 'fix the file');
    const js = d.toJS() as unknown;
    if (js !== null && js !== undefined) out.push(...groupsOf(js, file));
  }
  if (out.length === 0) throw new UserError(`${file}: no rule groups`, 'give a rule file with at least one group');
  return out;
}

/** promtool's own check of a groups file: the reason it gives, or undefined when it passes. */
export async function promtoolCheck(groups: RuleGroup[], label: string): Promise<string | undefined> {
  const promtool = findBinary('promtool', 'FAULTLINE_PROMTOOL');
  if (!promtool) throw new UserError(describeMissing('promtool', 'FAULTLINE_PROMTOOL'), 'run make forge (it builds promtool from the Prometheus module)');
  const dir = mkdtempSync(join(tmpdir(), 'faultline-rules-'));
  try {
    const file = join(dir, 'rules.yaml');
    writeFileSync(file, stringify({ groups }));
    const res = await execa(promtool.path, ['check', 'rules', file], { reject: false, timeout: 30_000 });
    if (res.exitCode === 0) return undefined;
    const why = `${res.stdout}\n${res.stderr}`.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('Checking') && !/^SUCCESS|^FAILED:?$/.test(l));
    return `${label}: promtool check rules: ${why.join('; ').replaceAll(file, label) || `exit ${res.exitCode}`}`;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Reads and checks every file; the first bad one is a UserError (exit 2, nothing changed). */
export async function loadUserRules(files: string[]): Promise<UserRules> {
  const groups: RuleGroup[] = [];
  for (const [i, file] of files.entries()) {
    let text: string;
    try {
      text = readRegularFile(file);
    } catch (err) {
      throw err instanceof InputFileError ? new UserError(`--alert-rules ${err.message}`, 'pass a rule file faultline can read') : err;
    }
    const own = parseRuleText(text, file);
    const bad = await promtoolCheck(own, file);
    if (bad) throw new UserError(bad, 'fix the rule file');
    groups.push(...own.map((g) => ({ ...g, name: `user-${i + 1}-${g.name}` })));
  }
  const alerts = [...new Set(groups.flatMap((g) => (g.rules ?? []).map((r: AlertRule) => r.alert).filter(Boolean)))];
  return { groups, alerts };
}
