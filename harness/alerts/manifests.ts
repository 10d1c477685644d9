// The objects of the alerting stack a run deploys (pure builders). Prometheus and Alertmanager run with the host's
// network on the first control-plane node: kubeadm's etcd serves its metrics on 127.0.0.1:2381 only, and
// kube-controller-manager and kube-scheduler listen on 127.0.0.1 too. Ports 19090 and 19093 keep clear of anything
// the node already serves. The harness reads both APIs through the API server's service proxy, so nothing is
// port-forwarded.
import { stringify } from 'yaml';
import { MANAGED_BY } from '../core/labels.js';
import { RUN_ID_ANNOTATION } from '../faults/victim-namespace.js';
import type { RuleGroup } from './standard-rules.js';

export const ALERTS_NAMESPACE = 'faultline-alerts';
export const PROMETHEUS_PORT = 19090;
export const ALERTMANAGER_PORT = 19093;
/** Scrapes and rule evaluation every 5 s: an alert's `for:` is then what decides when it fires */
export const INTERVAL = '5s';

export interface StackNames {
  namespace: string;
  /** cluster-scoped: the ClusterRole and its binding share this name */
  clusterRole: string;
  /** the run that made it: its namespace carries this in the annotation victim-namespace reverts by */
  runId: string;
}

export const stackNames = (runId: string): StackNames => ({ namespace: ALERTS_NAMESPACE, clusterRole: `faultline-alerts-${runId}`.slice(0, 63), runId });

/** Paths of the two HTTP APIs through the API server's service proxy */
export const prometheusApi = (path: string) => `/api/v1/namespaces/${ALERTS_NAMESPACE}/services/http:prometheus:${PROMETHEUS_PORT}/proxy${path}`;
export const alertmanagerApi = (path: string) => `/api/v1/namespaces/${ALERTS_NAMESPACE}/services/http:alertmanager:${ALERTMANAGER_PORT}/proxy${path}`;

const labels = (app: string) => ({ [MANAGED_BY.key]: MANAGED_BY.value, app });
const SA_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';
const https = (job: string, target: string, extra: Record<string, unknown> = {}) => ({
  job_name: job,
  scheme: 'https',
  tls_config: { insecure_skip_verify: true },
  authorization: { credentials_file: `${SA_DIR}/token` },
  static_configs: [{ targets: [target] }],
  ...extra,
});

/** prometheus.yml: etcd, the API server, kube-controller-manager and kube-scheduler on this node's loopback; every
 *  kubelet (and its cAdvisor) found through the API. */
export function prometheusConfig(): string {
  const kubelet = (job: string, path: string) => ({
    job_name: job,
    scheme: 'https',
    metrics_path: path,
    tls_config: { insecure_skip_verify: true },
    authorization: { credentials_file: `${SA_DIR}/token` },
    kubernetes_sd_configs: [{ role: 'node' }],
    relabel_configs: [
      { source_labels: ['__meta_kubernetes_node_name'], target_label: 'node' },
      { target_label: 'metrics_path', replacement: path },
    ],
  });
  return stringify({
    global: { scrape_interval: INTERVAL, evaluation_interval: INTERVAL },
    rule_files: ['/etc/faultline-alerts/rules.yaml'],
    alerting: { alertmanagers: [{ static_configs: [{ targets: [`127.0.0.1:${ALERTMANAGER_PORT}`] }] }] },
    scrape_configs: [
      { job_name: 'etcd', static_configs: [{ targets: ['127.0.0.1:2381'] }] },
      https('kube-apiserver', '127.0.0.1:6443'),
      https('kube-controller-manager', '127.0.0.1:10257'),
      https('kube-scheduler', '127.0.0.1:10259'),
      kubelet('kubelet', '/metrics'),
      { ...kubelet('cadvisor', '/metrics/cadvisor'), job_name: 'cadvisor' },
    ],
  });
}

export function alertmanagerConfig(): string {
  // alerts are read from its API; nothing is sent anywhere
  return stringify({ route: { receiver: 'api-only', group_wait: '0s', group_interval: '5s' }, receivers: [{ name: 'api-only' }] });
}

export function rulesText(groups: RuleGroup[]): string {
  return stringify({ groups: groups.map((g) => ({ ...g, interval: INTERVAL })) });
}

/** Every object, in the order they are created (deleted in reverse). */
export function stackObjects(n: StackNames, opts: { node: string; rules: string; prometheusImage: string; alertmanagerImage: string }): Array<Record<string, any>> {
  const meta = (name: string, app = 'faultline-alerts') => ({ name, namespace: n.namespace, labels: labels(app) });
  const hostPod = (app: string, image: string, args: string[], port: number, mounts: Array<{ name: string; mountPath: string }>, volumes: unknown[]) => ({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: meta(app, app),
    spec: {
      replicas: 1,
      strategy: { type: 'Recreate' },
      selector: { matchLabels: { app } },
      template: {
        metadata: { labels: labels(app) },
        spec: {
          serviceAccountName: 'faultline-alerts',
          hostNetwork: true,
          dnsPolicy: 'ClusterFirstWithHostNet',
          nodeName: opts.node,
          tolerations: [{ operator: 'Exists' }],
          terminationGracePeriodSeconds: 5,
          containers: [
            {
              name: app,
              image,
              imagePullPolicy: 'IfNotPresent',
              args,
              ports: [{ containerPort: port, name: 'http' }],
              readinessProbe: { httpGet: { path: '/-/ready', port }, periodSeconds: 2 },
              volumeMounts: mounts,
            },
          ],
          volumes,
        },
      },
    },
  });
  const service = (app: string, port: number) => ({
    apiVersion: 'v1',
    kind: 'Service',
    metadata: meta(app, app),
    spec: { selector: { app }, ports: [{ name: 'http', port, targetPort: port }] },
  });
  return [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: n.namespace, labels: labels('faultline-alerts'), annotations: { [RUN_ID_ANNOTATION]: n.runId } } },
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: meta('faultline-alerts') },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name: n.clusterRole, labels: labels('faultline-alerts') },
      rules: [
        { apiGroups: [''], resources: ['nodes', 'nodes/metrics', 'nodes/proxy'], verbs: ['get', 'list', 'watch'] },
        { nonResourceURLs: ['/metrics', '/metrics/cadvisor'], verbs: ['get'] },
      ],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: n.clusterRole, labels: labels('faultline-alerts') },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: n.clusterRole },
      subjects: [{ kind: 'ServiceAccount', name: 'faultline-alerts', namespace: n.namespace }],
    },
    {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: meta('faultline-alerts'),
      data: { 'prometheus.yml': prometheusConfig(), 'rules.yaml': opts.rules, 'alertmanager.yml': alertmanagerConfig() },
    },
    hostPod(
      'prometheus',
      opts.prometheusImage,
      ['--config.file=/etc/faultline-alerts/prometheus.yml', '--storage.tsdb.path=/prometheus', '--storage.tsdb.retention.time=6h', `--web.listen-address=:${PROMETHEUS_PORT}`],
      PROMETHEUS_PORT,
      [{ name: 'config', mountPath: '/etc/faultline-alerts' }, { name: 'data', mountPath: '/prometheus' }],
      [{ name: 'config', configMap: { name: 'faultline-alerts' } }, { name: 'data', emptyDir: {} }],
    ),
    hostPod(
      'alertmanager',
      opts.alertmanagerImage,
      ['--config.file=/etc/faultline-alerts/alertmanager.yml', '--storage.path=/alertmanager', `--web.listen-address=:${ALERTMANAGER_PORT}`, '--cluster.listen-address='],
      ALERTMANAGER_PORT,
      [{ name: 'config', mountPath: '/etc/faultline-alerts' }, { name: 'data', mountPath: '/alertmanager' }],
      [{ name: 'config', configMap: { name: 'faultline-alerts' } }, { name: 'data', emptyDir: {} }],
    ),
    service('prometheus', PROMETHEUS_PORT),
    service('alertmanager', ALERTMANAGER_PORT),
  ];
}
