// The doctor corpus (test/corpus/*.yaml): broken and healthy cases, each applied into a namespace of its own, and
// the scoring of doctor's findings against what each case expects. Shared by the e2e suite (which asserts the
// score) and `make bench-doctor` (which prints it).
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CoreV1Api, KubernetesObjectApi, PatchStrategy, type KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import { issueCertificate } from '../harness/certs/index.js';
import { KindProvider } from '../harness/cluster/kind.js';
import { MANAGED_BY } from '../harness/core/labels.js';
import { repoRoot } from '../harness/core/paths.js';
import { manifestImages } from '../harness/engine/deploy.js';

export interface Expectation {
  detector: string;
  /** "Kind/name-prefix" of the finding's first resource, inside the case's namespace */
  resource: string;
  /** substrings the finding's summary or root cause must hold */
  says: string[];
}

export interface CorpusCase {
  id: string;
  /** the failure class it belongs to, for the per-class table */
  class: string;
  namespace: string;
  namespaceLabels: Record<string, string>;
  /** empty: a healthy case, which must stay quiet */
  expect: Expectation[];
  /** generated Secrets (kubernetes.io/tls) the case needs: valid or expired */
  tlsSecrets: Array<{ name: string; state: 'valid' | 'expired' }>;
  manifests: Array<Record<string, any>>;
}

/** kinds a case may hold that live outside its namespace (removed with the cluster the corpus runs on) */
const CLUSTER_SCOPED = new Set(['ValidatingWebhookConfiguration', 'MutatingWebhookConfiguration']);

export const CORPUS_DIR = join(repoRoot(), 'test', 'corpus');
export const NS_PREFIX = 'fc-';

export function loadCorpus(dir = CORPUS_DIR): CorpusCase[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.yaml'))
    .sort()
    .map((f) => {
      const id = f.replace(/\.yaml$/, '');
      const namespace = `${NS_PREFIX}${id}`.slice(0, 63);
      // cluster-scoped objects (a webhook configuration) name the case's namespace as {{namespace}}
      const docs = parseAllDocuments(readFileSync(join(dir, f), 'utf8').replaceAll('{{namespace}}', namespace)).map((d) => d.toJS());
      const head = docs[0] as { class: string; expect?: Expectation[]; namespaceLabels?: Record<string, string>; tlsSecrets?: CorpusCase['tlsSecrets'] };
      return {
        id,
        class: head.class,
        namespace,
        namespaceLabels: head.namespaceLabels ?? {},
        expect: head.expect ?? [],
        tlsSecrets: head.tlsSecrets ?? [],
        manifests: docs.slice(1).filter(Boolean),
      };
    });
}

export interface ScoredFinding {
  detector: string;
  summary: string;
  rootCause: string;
  resources: string[];
}

export interface Score {
  /** expectations met / all expectations */
  recall: number;
  /** findings in corpus namespaces that meet an expectation / all findings in corpus namespaces */
  precision: number;
  missed: string[];
  extra: string[];
  byClass: Record<string, { expected: number; found: number }>;
}

function meets(f: ScoredFinding, c: CorpusCase, e: Expectation): boolean {
  const [kind, prefix] = e.resource.split('/');
  const first = f.resources[0] ?? '';
  const text = `${f.summary}\n${f.rootCause}`;
  return f.detector === e.detector && first.startsWith(`${c.namespace}/${kind}/${prefix}`) && e.says.every((s) => text.includes(s));
}

export function score(cases: CorpusCase[], findings: ScoredFinding[]): Score {
  const missed: string[] = [];
  const used = new Set<ScoredFinding>();
  const byClass: Score['byClass'] = {};
  let expected = 0;
  let met = 0;
  for (const c of cases) {
    for (const e of c.expect) {
      expected++;
      const cls = (byClass[c.class] ??= { expected: 0, found: 0 });
      cls.expected++;
      // every finding that meets it is explained (two pending replicas of one Deployment are one expectation)
      const hits = findings.filter((f) => meets(f, c, e));
      for (const h of hits) used.add(h);
      if (hits.length) {
        met++;
        cls.found++;
      } else {
        const near = findings.filter((f) => f.resources[0]?.startsWith(`${c.namespace}/`)).map((f) => `${f.detector}: ${f.summary}`);
        missed.push(`${c.id}: ${e.detector} on ${e.resource} saying ${JSON.stringify(e.says)}${near.length ? ` (found instead: ${near.join(' | ')})` : ' (nothing found)'}`);
      }
    }
  }
  const inCorpus = findings.filter((f) => cases.some((c) => f.resources.some((r) => r.startsWith(`${c.namespace}/`))));
  const extra = inCorpus.filter((f) => !used.has(f)).map((f) => `${f.resources[0]}: ${f.detector}: ${f.summary}`);
  return {
    recall: expected ? met / expected : 1,
    precision: inCorpus.length ? (inCorpus.length - extra.length) / inCorpus.length : 1,
    missed,
    extra,
    byClass,
  };
}

/** Applies every case into its namespace (labelled as faultline's, with the case's own labels): the images the
 *  corpus runs are loaded into the nodes first, TLS Secrets are generated, manifests go in with server-side apply. */
export async function applyCorpus(kc: KubeConfig, clusterName: string, cases: CorpusCase[], log: (m: string) => void = () => {}): Promise<void> {
  const images = [...new Set(cases.flatMap((c) => manifestImages(c.manifests as KubernetesObject[])).filter((i) => i.startsWith('docker.io/library/busybox')))];
  await new KindProvider().loadImages({ provider: 'kind', name: clusterName, context: `kind-${clusterName}`, kubeconfigPath: '', createdByFaultline: true }, images);
  const core = kc.makeApiClient(CoreV1Api);
  const objects = KubernetesObjectApi.makeApiClient(kc);
  for (const c of cases) {
    await core.createNamespace({ body: { metadata: { name: c.namespace, labels: { [MANAGED_BY.key]: MANAGED_BY.value, ...c.namespaceLabels } } } });
    for (const t of c.tlsSecrets) {
      const now = Date.now();
      const day = 86_400_000;
      const ca = await issueCertificate({ commonName: `${c.id} CA`, usage: 'ca', notBefore: new Date(now - 400 * day), notAfter: new Date(now + 400 * day) });
      const dates = t.state === 'expired' ? { notBefore: new Date(now - 100 * day), notAfter: new Date(now - day) } : { notBefore: new Date(now - day), notAfter: new Date(now + 90 * day) };
      const leaf = await issueCertificate({ commonName: `${t.name}.${c.namespace}`, dnsNames: [`${t.name}.${c.namespace}.svc`], usage: 'server', issuer: ca, ...dates });
      await core.createNamespacedSecret({
        namespace: c.namespace,
        body: { metadata: { name: t.name }, type: 'kubernetes.io/tls', stringData: { 'tls.crt': leaf.certPem, 'tls.key': leaf.keyPem, 'ca.crt': ca.certPem } },
      });
    }
    for (const m of c.manifests) {
      const obj = (CLUSTER_SCOPED.has(m.kind) ? m : { ...m, metadata: { ...m.metadata, namespace: c.namespace } }) as KubernetesObject;
      await objects.patch(obj, undefined, undefined, 'faultline-corpus', true, PatchStrategy.ServerSideApply);
    }
    log(`applied ${c.id} (${c.manifests.length} object(s)) in ${c.namespace}`);
  }
}

/** Deletes what applyCorpus made: the cluster-scoped objects, then the namespaces (not waited for). */
export async function removeCorpus(kc: KubeConfig, cases: CorpusCase[]): Promise<void> {
  const core = kc.makeApiClient(CoreV1Api);
  const objects = KubernetesObjectApi.makeApiClient(kc);
  for (const c of cases) {
    for (const m of c.manifests.filter((x) => CLUSTER_SCOPED.has(x.kind))) await objects.delete(m as KubernetesObject).catch(() => undefined);
  }
  for (const c of cases) await core.deleteNamespace({ name: c.namespace }).catch(() => undefined);
}
