// The NRE Labs outage: the kubelet kills a healthy etcd because its liveness probe is wrong. Signatures: the etcd
// container's restarts climb, the kubelet reports "Liveness probe failed" / "failed liveness probe, will be
// restarted", etcd's own log ends with the terminated signal ("received signal; shutting down", older etcd:
// "received terminated signal, shutting down"), and etcd answers /health between kills.
//
// The API server dies with etcd, so collect() reads everything on the control-plane node: etcd's pod log
// files (N.log = attempt N), etcd's log, the kubelet journal, etcd's /health on 127.0.0.1:2381 and the static
// pod manifest's probe. Events are added when the API answers. analyze() is pure.
import { analyzeEtcdLiveness, type EtcdLivenessSnapshot } from './etcd-liveness-analysis.js';
import { collectEtcdLiveness } from './etcd-liveness-collect.js';
import type { Detector } from './types.js';

export const etcdLivenessRestartsDetector: Detector<EtcdLivenessSnapshot> = {
  id: 'etcd-liveness-restarts',
  description: "etcd killed by the kubelet's liveness probe while etcd itself is healthy (node-level: works with the API down)",
  collect: collectEtcdLiveness,
  analyze: analyzeEtcdLiveness,
};
