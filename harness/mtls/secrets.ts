// Reading and writing the Secrets of a mutual-TLS workload through the API. Only names, resourceVersions and
// digests leave this module; Secret data goes from the API to the API.
import type { CoreV1Api, V1Secret } from '@kubernetes/client-node';
import { unlessNotFound } from '../cluster/kube.js';
import { MANAGED_BY } from '../core/labels.js';
import { dataDigest } from './pki.js';

export interface SecretDigest {
  name: string;
  type: string;
  resourceVersion: string;
  sha256: string;
  keys: string[];
}

export function digestOf(s: V1Secret): SecretDigest {
  return {
    name: s.metadata!.name!,
    type: s.type ?? 'Opaque',
    resourceVersion: s.metadata?.resourceVersion ?? '',
    sha256: dataDigest(s.data),
    keys: Object.keys(s.data ?? {}).sort(),
  };
}

export function readSecret(core: CoreV1Api, namespace: string, name: string): Promise<V1Secret | undefined> {
  return unlessNotFound(core.readNamespacedSecret({ name, namespace }));
}

/** Replaces a Secret's data (type and metadata kept), or creates it. */
export async function putSecretData(core: CoreV1Api, namespace: string, name: string, type: string, data: Record<string, string>): Promise<V1Secret> {
  const cur = await readSecret(core, namespace, name);
  if (!cur) {
    return core.createNamespacedSecret({ namespace, body: { metadata: { name, namespace, labels: { [MANAGED_BY.key]: MANAGED_BY.value } }, type, data } });
  }
  const body: V1Secret = { ...cur, data };
  delete body.stringData;
  return core.replaceNamespacedSecret({ name, namespace, body });
}

/** Backup Secret keys: "<secret name>/<key>" is not a valid data key, so "<secret name>..<key>". */
export const backupKey = (secret: string, key: string) => `${secret}..${key}`;

export function splitBackup(data: Record<string, string>): Map<string, Record<string, string>> {
  const out = new Map<string, Record<string, string>>();
  for (const [k, v] of Object.entries(data)) {
    const i = k.indexOf('..');
    if (i < 0) continue;
    const name = k.slice(0, i);
    const rec = out.get(name) ?? {};
    rec[k.slice(i + 2)] = v;
    out.set(name, rec);
  }
  return out;
}
