// etcd on a slow (Ceph-backed) disk. WAL fsync and backend commit latencies climb to ~1 s,
// etcd logs "apply request took too long", leader elections are lost and leader-elected components
// (kube-controller-manager, kube-scheduler) restart. The standard alert (etcdHighFsyncDurations) waits 10 min.
//
// collect() reads etcd's own metrics on each control-plane node (node exec: curl 127.0.0.1:2381/metrics) and
// keeps the latencies of a recent window only (the delta between two scrapes at least WINDOW_MS apart), so
// hours of healthy samples cannot hide a slow disk. Without node access it falls back to the API server's
// view of etcd (etcd_request_duration_seconds from the API's /metrics). analyze() is pure.
import { analyzeEtcdDisk, type EtcdDiskSnapshot } from './etcd-disk-analysis.js';
import { collectEtcdDisk } from './etcd-disk-sampling.js';
import type { Detector } from './types.js';

export const etcdDiskLatencyDetector: Detector<EtcdDiskSnapshot> = {
  id: 'etcd-disk-latency',
  description: "etcd members whose WAL fsync or backend commit p99 (etcd's own metrics, recent window) shows a slow disk",
  collect: collectEtcdDisk,
  analyze: analyzeEtcdDisk,
};
