// Reads and validates scenario folders. Any problem becomes one line naming the file and the field.
import { existsSync, readdirSync, realpathSync, statSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { LineCounter, parseDocument } from 'yaml';
import type { ZodError } from 'zod';
import { builtinFixtures } from '../fixtures/registry.js';
import { builtinLoadProbes } from '../load/registry.js';
import { citationGap } from '../core/citation.js';
import { UserError, errorMessage } from '../core/errors.js';
import { InputFileError, readRegularFile } from '../core/files.js';
import { displayPath, repoRoot, scenariosDir } from '../core/paths.js';

export { displayPath };
import { readManifests, registerManifestSecrets } from './deploy.js';
import type { Registries } from './registries.js';
import { DEFAULT_DEADLINES, ScenarioSchema, type LoadedScenario, type Scenario } from './scenario.js';

const FIX = 'fix the file (format: docs/scenarios.md)';

export function firstIssue(err: ZodError): string {
  const issue = err.issues[0];
  if (!issue) return 'invalid';
  const path = issue.path.map((p) => (typeof p === 'number' ? `[${p}]` : String(p))).join('.').replace(/\.\[/g, '[');
  const msg = issue.message.replace(/\s+/g, ' ');
  return path ? `field ${path}: ${msg}` : msg;
}

export function listScenarioIds(root = scenariosDir()): string[] {
  if (!existsSync(root)) return [];
  return readdirSync(root)
    .filter((d) => existsSync(join(root, d, 'scenario.yaml')) && statSync(join(root, d)).isDirectory())
    .sort();
}

export function loadScenario(dir: string, registries: Registries): LoadedScenario {
  const file = join(dir, 'scenario.yaml');
  const where = displayPath(file);
  const fail = (what: string): never => {
    throw new UserError(`${where}: ${what}`, FIX);
  };
  const text = readInput(file, fail);
  const lineCounter = new LineCounter();
  // logLevel error: yaml's warnings (a list used as a key) would be a second line on stderr; the schema refuses them
  const doc = parseDocument(text, { prettyErrors: false, lineCounter, logLevel: 'error' });
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    const pos = lineCounter.linePos(e.pos[0]);
    fail(`invalid YAML${pos ? ` at line ${pos.line} column ${pos.col}` : ''}: ${e.message.split('\n')[0]}`);
  }
  const parsed = ScenarioSchema.safeParse(yamlValue(doc, fail));
  if (!parsed.success) fail(firstIssue(parsed.error));
  const s = parsed.data!;
  const gap = citationGap(s.incident);
  if (gap) fail(`field incident: ${gap}`);
  if (s.id !== basename(dir)) fail(`field id: "${s.id}" must equal the folder name "${basename(dir)}"`);

  const fault = registries.faults.get(s.fault.type);
  if (!fault) fail(`field fault.type: unknown fault "${s.fault.type}" (known: ${[...registries.faults.keys()].join(', ')})`);
  const fp = fault!.paramsSchema.safeParse(s.fault.params);
  if (!fp.success) fail(firstIssue(fp.error).replace(/^field /, 'field fault.params.'));
  s.victim.setup.forEach((st, i) => {
    const f = registries.faults.get(st.type);
    if (!f) fail(`field victim.setup[${i}].type: unknown fault "${st.type}" (known: ${[...registries.faults.keys()].join(', ')})`);
    const r = f!.paramsSchema.safeParse(st.params);
    if (!r.success) fail(firstIssue(r.error).replace(/^field /, `field victim.setup[${i}].params.`).replace(/^(?!field)/, `field victim.setup[${i}].params: `));
  });
  s.detect.expect.forEach((id, i) => {
    if (!registries.detectors.has(id)) fail(`field detect.expect[${i}]: unknown detector "${id}" (known: ${[...registries.detectors.keys()].join(', ')})`);
  });
  const runbook = registries.runbooks.get(s.runbook.id);
  if (!runbook) fail(`field runbook.id: unknown runbook "${s.runbook.id}" (known: ${[...registries.runbooks.keys()].join(', ')})`);
  const rp = runbook!.verifyParams.safeParse({ namespace: s.victim.namespace, ...s.runbook.params });
  if (!rp.success) fail(firstIssue(rp.error).replace(/^field /, 'field runbook.params.').replace(/^(?!field)/, 'field runbook.params: '));
  s.integrity.forEach((c, i) => {
    const check = registries.integrity.get(c.check);
    if (!check) fail(`field integrity[${i}].check: unknown check "${c.check}" (known: ${[...registries.integrity.keys()].join(', ')})`);
    const r = check!.paramsSchema.safeParse(c.params);
    if (!r.success) fail(firstIssue(r.error).replace(/^field /, `field integrity[${i}].params.`).replace(/^(?!field)/, `field integrity[${i}].params: `));
  });
  const fixtures = registries.fixtures ?? builtinFixtures();
  s.victim.fixtures.forEach((f, i) => {
    const fx = fixtures.get(f.type);
    if (!fx) fail(`field victim.fixtures[${i}].type: unknown fixture "${f.type}" (known: ${[...fixtures.keys()].join(', ')})`);
    const r = fx!.paramsSchema.safeParse(f.params);
    if (!r.success) fail(firstIssue(r.error).replace(/^field /, `field victim.fixtures[${i}].params.`).replace(/^(?!field)/, `field victim.fixtures[${i}].params: `));
  });
  const alone = s.isolation === 'namespace' ? whyNotNamespaced(s, registries) : undefined;
  if (alone) fail(`field isolation: "namespace", but ${alone}`);
  if (s.load) {
    const probes = registries.loadProbes ?? builtinLoadProbes();
    const probe = probes.get(s.load.probe);
    if (!probe) fail(`field load.probe: unknown load probe "${s.load.probe}" (known: ${[...probes.keys()].join(', ')})`);
    const r = probe!.paramsSchema.safeParse(s.load.params);
    if (!r.success) fail(firstIssue(r.error).replace(/^field /, 'field load.params.').replace(/^(?!field)/, 'field load.params: '));
  }
  // manifests may be shared between scenarios of one catalog, but never come from outside it
  const catalog = dirname(dir);
  const manifestPaths = s.victim.manifests.map((m, i) => {
    const field = `field victim.manifests[${i}]`;
    const p = confined(resolve(dir, m), [catalog], `${field}: ${m}`, fail);
    try {
      // secret values in the victim are masked in every line faultline writes from now on, deployed or not
      registerManifestSecrets(readManifests([p], s.victim.namespace));
    } catch (err) {
      fail(`${field}: ${err instanceof InputFileError ? `${m} ${err.reason}` : errorMessage(err)}`);
    }
    return p;
  });
  let clusterConfigPath: string | undefined;
  if (s.cluster.config) {
    clusterConfigPath = confined(resolve(repoRoot(), s.cluster.config), [repoRoot(), catalog], `field cluster.config: ${s.cluster.config}`, fail);
    readInput(clusterConfigPath, (why) => fail(`field cluster.config: ${s.cluster.config} ${why}`));
  }
  return {
    ...s,
    dir,
    file,
    manifestPaths,
    ...(clusterConfigPath ? { clusterConfigPath } : {}),
    stageDeadlines: { ...DEFAULT_DEADLINES, detect: s.detect.deadlineSeconds, ...s.deadlines },
  };
}

function readInput(path: string, fail: (what: string) => never): string {
  try {
    return readRegularFile(path);
  } catch (err) {
    return fail(err instanceof InputFileError ? err.reason : errorMessage(err));
  }
}

/** The path, when it lies inside one of the roots once symlinks are resolved; else a refusal naming the field. */
function confined(path: string, roots: string[], what: string, fail: (what: string) => never): string {
  if (!existsSync(path)) return fail(`${what} does not exist`);
  const real = realpathSync(path);
  const inside = roots.some((r) => {
    const rel = relative(realpathSync(r), real);
    return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel);
  });
  return inside ? path : fail(`${what} lies outside ${roots.map(displayPath).join(' and ')}`);
}

/** Resolves ids (or all) to loaded scenarios; an unknown id is bad input. */
export function resolveScenarios(ids: string[], all: boolean, registries: Registries, root = scenariosDir()): LoadedScenario[] {
  const known = listScenarioIds(root);
  const wanted = all ? known : ids;
  if (wanted.length === 0) {
    throw new UserError(all ? `no scenarios found in ${displayPath(root)}` : 'no scenario given', 'name one (see `faultline list`) or pass --all');
  }
  for (const id of wanted) {
    if (!known.includes(id)) {
      throw new UserError(`unknown scenario "${id}"`, `run \`faultline list\` to see the ${known.length} known scenario(s)`);
    }
  }
  return wanted.map((id) => loadScenario(join(root, id), registries));
}

/** `--fault-param key=value` pairs; values are read as YAML scalars, so 2000 is a number and true a boolean. */
export function parseFaultParams(pairs: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const pair of pairs) {
    const m = /^([A-Za-z][\w.-]*)=(.*)$/s.exec(pair);
    if (!m) throw new UserError(`--fault-param "${pair}" is not key=value`, 'e.g. --fault-param delayMs=2000');
    out[m[1]!] = parseYamlScalar(m[2]!);
  }
  return out;
}

function parseYamlScalar(raw: string): unknown {
  const doc = parseDocument(raw, { logLevel: 'error' });
  if (doc.errors.length > 0) return raw;
  return yamlValue(doc, (what) => {
    throw new UserError(`--fault-param value "${raw}": ${what}`, 'quote the value if it is meant as text');
  });
}

/** The document's value; an alias to no anchor (`*x`) is found only here, and is bad input like a syntax error. */
function yamlValue(doc: ReturnType<typeof parseDocument>, fail: (what: string) => never): unknown {
  try {
    return doc.toJS();
  } catch (err) {
    return fail(`invalid YAML: ${(err as Error).message.split('\n')[0]}`);
  }
}

/** The scenario with its fault's params overridden, checked against the fault's schema like the file is. A key
 *  `TYPE.key` overrides a param of the set-up fault of that type (`registry-upstream.existing=true`). */
export function withFaultParams(sc: LoadedScenario, overrides: Record<string, unknown>, registries: Registries): LoadedScenario {
  const keys = Object.keys(overrides);
  if (keys.length === 0) return sc;
  const byTarget = new Map<string, Record<string, unknown>>();
  for (const key of keys) {
    const dot = key.indexOf('.');
    const target = dot > 0 && sc.victim.setup.some((x) => x.type === key.slice(0, dot)) ? key.slice(0, dot) : '';
    const own = target ? key.slice(dot + 1) : key;
    byTarget.set(target, { ...byTarget.get(target), [own]: overrides[key] });
  }
  const override = (f: { type: string; params: Record<string, unknown> }, values: Record<string, unknown> | undefined, prefix: string) => {
    if (!values) return f;
    const fault = registries.faults.get(f.type)!;
    const shape = (fault.paramsSchema as unknown as { shape?: Record<string, unknown> }).shape;
    const unknown = shape ? Object.keys(values).filter((k) => !(k in shape)) : [];
    if (unknown.length > 0) {
      const setups = sc.victim.setup.length ? `; a set-up fault's as TYPE.key, TYPE one of ${sc.victim.setup.map((x) => x.type).join(', ')}` : '';
      throw new UserError(`--fault-param ${prefix}${unknown[0]}: fault ${f.type} has no such parameter (known: ${Object.keys(shape!).join(', ')}${prefix ? '' : setups})`, `see ${displayPath(sc.file)}`);
    }
    const params = { ...f.params, ...values };
    const r = fault.paramsSchema.safeParse(params);
    if (!r.success) throw new UserError(`--fault-param ${prefix}${firstIssue(r.error).replace(/^field /, '')}`, `see ${displayPath(sc.file)}`);
    return { ...f, params };
  };
  const setup = sc.victim.setup.map((x) => override(x, byTarget.get(x.type), `${x.type}.`));
  return { ...sc, fault: override(sc.fault, byTarget.get(''), ''), victim: { ...sc.victim, setup } };
}

/** Why a scenario that says it stays in its namespace may not: the first thing that reaches past it. */
function whyNotNamespaced(s: Scenario, registries: Registries): string | undefined {
  const ns = s.victim.namespace;
  if (s.cluster.needs.length) return `it needs ${s.cluster.needs.join(', ')}: node access reaches what every scenario on the cluster shares`;
  if (s.alerts) return 'it expects alerts: the alerting stack is one per cluster';
  if (s.runbook.exec) return 'runbook.exec is a command whose reach faultline cannot know';
  if (s.detect.namespace && s.detect.namespace !== ns) return `detect.namespace is ${s.detect.namespace}, not the victim's ${ns}`;
  for (const [field, f] of [['fault', s.fault], ...s.victim.setup.map((x, i) => [`victim.setup[${i}]`, x] as const)] as const) {
    if (registries.faults.get(f.type)?.scope !== 'namespace') return `${field}'s fault ${f.type} changes more than a namespace`;
    if (f.params.namespace !== ns) return `${field}.params.namespace is ${String(f.params.namespace ?? 'unset')}, not the victim's ${ns}`;
  }
  if (registries.runbooks.get(s.runbook.id)?.scope !== 'namespace') return `runbook ${s.runbook.id} changes more than a namespace`;
  return undefined;
}
