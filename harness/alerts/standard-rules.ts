// The "standard" alert rules: the upstream etcd-mixin (etcd's contrib/mixin) and kubernetes-mixin
// (kubernetes-monitoring/kubernetes-mixin) alerts whose metrics this stack scrapes, with their upstream expressions
// and `for:` durations, so a run measures when the alerts teams actually deploy would fire. Job names follow the
// mixins' defaults: etcd (matched by job=~".*etcd.*"), kube-apiserver, kubelet, kube-controller-manager,
// kube-scheduler.

export interface AlertRule {
  alert: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

export interface RuleGroup {
  name: string;
  rules: AlertRule[];
}

const ETCD = 'job=~".*etcd.*"';

export const STANDARD_RULE_GROUPS: RuleGroup[] = [
  {
    name: 'etcd',
    rules: [
      {
        alert: 'etcdMembersDown',
        expr: `max without (endpoint) (sum without (instance) (up{${ETCD}} == bool 0) or count without (To) (sum without (instance) (rate(etcd_network_peer_sent_failures_total{${ETCD}}[120s])) > 0.01)) > 0`,
        for: '10m',
        labels: { severity: 'critical' },
      },
      { alert: 'etcdNoLeader', expr: `etcd_server_has_leader{${ETCD}} == 0`, for: '1m', labels: { severity: 'critical' } },
      {
        alert: 'etcdHighNumberOfLeaderChanges',
        expr: `increase((max without (instance) (etcd_server_leader_changes_seen_total{${ETCD}}) or 0*absent(etcd_server_leader_changes_seen_total{${ETCD}}))[15m:1m]) >= 4`,
        for: '5m',
        labels: { severity: 'warning' },
      },
      { alert: 'etcdHighFsyncDurations', expr: `histogram_quantile(0.99, rate(etcd_disk_wal_fsync_duration_seconds_bucket{${ETCD}}[5m])) > 0.5`, for: '10m', labels: { severity: 'warning' } },
      { alert: 'etcdHighCommitDurations', expr: `histogram_quantile(0.99, rate(etcd_disk_backend_commit_duration_seconds_bucket{${ETCD}}[5m])) > 0.25`, for: '10m', labels: { severity: 'warning' } },
    ],
  },
  {
    name: 'kubernetes-system',
    rules: [
      {
        alert: 'KubeClientCertificateExpiration',
        expr:
          'histogram_quantile(0.01, sum without (namespace, service, endpoint) (rate(apiserver_client_certificate_expiration_seconds_bucket{job="kube-apiserver"}[5m]))) < 604800 ' +
          'and on(job, cluster, instance) apiserver_client_certificate_expiration_seconds_count{job="kube-apiserver"} > 0',
        for: '5m',
        labels: { severity: 'warning' },
      },
      { alert: 'KubeAPIDown', expr: 'absent(up{job="kube-apiserver"} == 1)', for: '15m', labels: { severity: 'critical' } },
      { alert: 'KubeletDown', expr: 'absent(up{job="kubelet"} == 1)', for: '15m', labels: { severity: 'critical' } },
      { alert: 'KubeControllerManagerDown', expr: 'absent(up{job="kube-controller-manager"} == 1)', for: '15m', labels: { severity: 'critical' } },
      { alert: 'KubeSchedulerDown', expr: 'absent(up{job="kube-scheduler"} == 1)', for: '15m', labels: { severity: 'critical' } },
    ],
  },
];

/** Standard alerts this stack cannot evaluate, and why: reported as not-evaluable, never as passed. */
export const NOT_EVALUABLE: Record<string, string> = {
  KubePodCrashLooping: 'needs kube-state-metrics, which this stack does not run (it cannot be built from the Go module proxy here)',
  KubeStatefulSetReplicasMismatch: 'needs kube-state-metrics, which this stack does not run (it cannot be built from the Go module proxy here)',
  KubeContainerWaiting: 'needs kube-state-metrics, which this stack does not run (it cannot be built from the Go module proxy here)',
};
