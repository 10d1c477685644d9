// The label on everything faultline creates in a cluster (namespaces, fixtures, backups). Its own module so
// fixtures can use it without importing the deployer that runs them.
export const MANAGED_BY = { key: 'app.kubernetes.io/managed-by', value: 'faultline' };
