// The label on everything faultline creates in a cluster (namespaces, fixtures, backups). Its own module so
// fixtures can use it without importing the deployer that runs them.
export const MANAGED_BY = { key: 'app.kubernetes.io/managed-by', value: 'faultline' };

/** True for an object that carries faultline's label. */
export function isManaged(o: { metadata?: { labels?: Record<string, string> } } | undefined): boolean {
  return o?.metadata?.labels?.[MANAGED_BY.key] === MANAGED_BY.value;
}
