#!/usr/bin/env bash
# Measures what each slow-disk setting of the etcd-slow-disk fault does to a real etcd on a new single-node kind
# cluster: etcd's WAL fsync and backend commit p99 and the API's request p99 (from `faultline doctor`, a 5 s
# window near the end of the hold), and whether kube-controller-manager and kube-scheduler lose their leases
# ("leaderelection lost" in their logs) and restart while the fault lasts. Every injection goes through
# `faultline inject` (journaled) and is undone by `faultline recover`, also when the script is interrupted.
#
# usage: bench/etcd-disk-levels.sh [HOLD_SECONDS]   (default 60; make bench-etcd-disk)
#        SETTINGS="mechanism=strace,delayMs=2000 mechanism=blkio,writeIops=3" bench/etcd-disk-levels.sh
set -euo pipefail
cd "$(dirname "$0")/.."
F=(node dist/harness/cli/main.js)
HOLD=${1:-60}
SETTLE=${SETTLE:-60}
SETTINGS=${SETTINGS:-"mechanism=strace,delayMs=50 mechanism=strace,delayMs=500 mechanism=strace,delayMs=2000 mechanism=blkio,writeIops=100 mechanism=blkio,writeIops=10 mechanism=blkio,writeIops=3"}
[[ $HOLD =~ ^[0-9]+$ && $HOLD -ge 20 ]] || { echo "etcd-disk-levels: HOLD_SECONDS must be a whole number >= 20 (got $HOLD)" >&2; exit 2; }
command -v jq >/dev/null || { echo "etcd-disk-levels: jq is missing; run make setup" >&2; exit 2; }

NAME=faultline-bench-etcd
NODE=$NAME-control-plane
RUN=""
cleanup() {
  [ -z "$RUN" ] || "${F[@]}" recover --run "$RUN" >&2 || true
  "${F[@]}" cluster down "$NAME" >&2 || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

"${F[@]}" cluster up --name "$NAME" --config kind-configs/single.yaml >&2

# highest N of N.log per component = restarts of the current pod
restarts() {
  docker exec "$NODE" sh -c 'for c in kube-controller-manager kube-scheduler; do
    ls /var/log/pods/kube-system_${c}-*/${c}/ | sed "s/\.log$//" | sort -n | tail -n 1; done' | paste -sd' '
}
# "leaderelection lost" lines logged since $1 (the kubelet keeps only the last two log files of a container, so
# lines are counted by their timestamps, not before/after totals)
lost_since() {
  docker exec "$NODE" sh -c "cat /var/log/pods/kube-system_kube-*/*/*.log 2>/dev/null | grep -i 'leaderelection lost' | cut -d' ' -f1" |
    awk -v t="$1" '$1 >= t' | wc -l
}
# the etcd-disk-latency finding's evidence line that starts with $1, value only ("-": no finding, i.e. under
# the detector's thresholds: WAL fsync p99 100 ms, commit p99 250 ms)
evidence() { jq -r --arg p "$1" '[.findings[] | select(.detector=="etcd-disk-latency") | .evidence[] | select(startswith($p))][0] // "-"' <<<"$2" | sed -E "s/^$1 //; s/ \(.*//"; }

sleep "$SETTLE" # a new cluster's components settle first
printf '%-32s %-10s %-10s %-10s %-16s %-14s %s\n' setting "WAL p99" "commit p99" "API p99" "restarts kcm/sch" "lease losses" "finding"
for s in $SETTINGS; do
  args=()
  for kv in ${s//,/ }; do args+=(--fault-param "$kv"); done
  r0=$(restarts); t0=$(date -u +%FT%T)
  RUN=$("${F[@]}" inject etcd-slow-disk --cluster "$NAME" "${args[@]}" 2>/dev/null)
  sleep $((HOLD - 15))
  json=$("${F[@]}" doctor --cluster "$NAME" -o json 2>/dev/null || true)
  r1=$(restarts); lost=$(lost_since "$t0")
  "${F[@]}" recover --run "$RUN" >/dev/null 2>&1
  RUN=""
  found=$(jq -r '[.findings[] | select(.detector=="etcd-disk-latency")] | length' <<<"${json:-{\"findings\":[]\}}" 2>/dev/null || echo 0)
  printf '%-32s %-10s %-10s %-10s %-16s %-14s %s\n' "$s" \
    "$(evidence etcd_disk_wal_fsync_duration_seconds\ p99 "$json")" "$(evidence etcd_disk_backend_commit_duration_seconds\ p99 "$json")" \
    "$(evidence API\ request\ p99 "$json")" "${r0// //} -> ${r1// //}" "$lost" "$([ "$found" -gt 0 ] && echo yes || echo no)"
  sleep "$SETTLE"
done
echo "(hold ${HOLD}s per setting, settle ${SETTLE}s; $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB, kernel $(uname -r), $(date -u +%FT%TZ))"
