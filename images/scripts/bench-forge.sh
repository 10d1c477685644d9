#!/usr/bin/env bash
# Measures the forge and kind clusters built from it, and prints one table:
#   forge cold time (only with BENCH_COLD=1, below), forge warm time (make forge with nothing changed),
#   1+1 cluster create and delete time, with `kind create cluster` (alone, and then with kubectl waiting for what
#   faultline waits for: every node and every pod Ready, CoreDNS rolled out) and `faultline cluster up` side by side (same image,
#   same config),
#   peak memory of the node containers (docker stats, sampled every 2 s).
# BENCH_CONFIG=kind-configs/ha.yaml measures another cluster shape. BENCH_COLD=1 measures a real cold forge:
# empty Go module and build caches and an empty forge cache in a temporary folder, every image rebuilt without
# Docker's layer cache (the images it makes replace the current ones; the next make forge rebuilds what
# depends on them once).
source "$(dirname "$0")/lib.sh"
REPO_DIR=$(cd "$FORGE_DIR/.." && pwd)
config=${BENCH_CONFIG:-$REPO_DIR/kind-configs/one-worker.yaml}
name=faultline-bench-$$
KIND=$BIN_CACHE/current/kind
image=${FAULTLINE_NODE_IMAGE:-faultline/kind-node:$KUBERNETES_VERSION}

cold="-"
if [ -n "${BENCH_COLD:-}" ]; then
  tmp=$(mktemp -d)
  t=$SECONDS
  FAULTLINE_CACHE=$tmp/cache GOCACHE=$tmp/gocache GOMODCACHE=$tmp/gomod FAULTLINE_FORGE_REBUILD=1 FAULTLINE_FORGE=always \
    bash "$FORGE_DIR/scripts/forge.sh" >"$FAULTLINE_CACHE/logs/bench-forge-cold.log" 2>&1 \
    || die "the cold forge failed; see $FAULTLINE_CACHE/logs/bench-forge-cold.log"
  cold="$((SECONDS - t))"
  chmod -R u+w "$tmp"; rm -rf "$tmp"
fi
t=$SECONDS; bash "$FORGE_DIR/scripts/forge.sh" >/dev/null 2>&1 || die "make forge failed; run it to see why"
warm=$((SECONDS - t))

peak_file=$(mktemp)
sample() { # record the highest total memory of this cluster's node containers
  local peak=0 cur
  while :; do
    cur=$(docker stats --no-stream --format '{{.Name}} {{.MemUsage}}' 2>/dev/null | awk -v n="$name" '
      index($1, n) == 1 { v = $2; u = v; gsub(/[0-9.]/, "", u); gsub(/[A-Za-z]/, "", v)
        m = (u == "GiB") ? v * 1024 : (u == "KiB" ? v / 1024 : v); s += m } END { printf "%d", s }')
    (( cur > peak )) && peak=$cur && echo "$peak" >"$peak_file"
    sleep 2
  done
}
sample & sampler=$!
trap 'kill $sampler 2>/dev/null || true; "$KIND" delete cluster --name "$name" >/dev/null 2>&1; rm -f "$peak_file"' EXIT

t=$SECONDS
kc=$(mktemp)
"$KIND" create cluster --name "$name" --config "$config" --image "$image" --kubeconfig "$kc" --wait 5m >/dev/null 2>&1 \
  || die "kind create cluster failed with $config; run it by hand to see why"
create=$((SECONDS - t))
# the readiness faultline waits for, with kubectl: kind's --wait covers the control-plane node only
"$BIN_CACHE/current/kubectl" --kubeconfig "$kc" wait --for=condition=Ready node --all --timeout=5m >/dev/null 2>&1 \
  && "$BIN_CACHE/current/kubectl" --kubeconfig "$kc" -n kube-system rollout status deployment/coredns --timeout=5m >/dev/null 2>&1 \
  && "$BIN_CACHE/current/kubectl" --kubeconfig "$kc" wait --for=condition=Ready pod --all --all-namespaces --timeout=5m >/dev/null 2>&1 \
  || die "kind's cluster did not get every node and pod Ready and CoreDNS rolled out within 5 minutes"
usable=$((SECONDS - t))
rm -f "$kc"
sleep 20  # let the system pods settle, so the peak includes a running cluster, not just its start
t=$SECONDS; "$KIND" delete cluster --name "$name" >/dev/null 2>&1; delete=$((SECONDS - t))
kill $sampler 2>/dev/null || true

# the same cluster through faultline, in a state directory of its own
fl_state=$(mktemp -d)
fl_name=$name-fl
t=$SECONDS
FAULTLINE_STATE_DIR=$fl_state FAULTLINE_NODE_IMAGE=$image node "$REPO_DIR/dist/harness/cli/main.js" cluster up --name "$fl_name" --config "$config" >/dev/null 2>"$fl_state/up.log" \
  || die "faultline cluster up failed with $config; see $fl_state/up.log"
fl_create=$((SECONDS - t))
FAULTLINE_STATE_DIR=$fl_state node "$REPO_DIR/dist/harness/cli/main.js" cluster down "$fl_name" >/dev/null 2>&1 || true
# where faultline's time goes, from its own progress lines
fl_ready=$(sed -n 's/.*ready in [0-9.]*s (every node and component pod Ready, CoreDNS answering; \([0-9.]*\)s of it after kind returned).*/\1/p' "$fl_state/up.log" | head -1)
fl_baseline=$(sed -n 's/.*baseline for `faultline cluster check` in \([0-9.]*\)s.*/\1/p' "$fl_state/up.log" | head -1)
rm -rf "$fl_state"

printf '\nforge and cluster benchmark (%s, %s cores, %s RAM, %s)\n' "$(hostname)" "$(nproc)" \
  "$(free -g | awk '/Mem:/{print $2 "G"}')" "$(date -u +%FT%TZ)"
printf '%-38s %10s\n' "measure" "value"
if [ "$cold" = - ]; then printf '%-38s %10s\n' "forge cold" "not run (BENCH_COLD=1)"; else printf '%-38s %9ss\n' "forge cold (BENCH_COLD=1)" "$cold"; fi
printf '%-38s %9ss\n' "forge warm (after it)" "$warm"
printf '%-38s %9ss\n' "kind create cluster ($(basename "$config"))" "$create"
printf '%-38s %9ss\n' "  then every node and pod Ready" "$usable"
printf '%-38s %9ss  (%s%% of kind create alone, %s%% of kind create + the same readiness)\n' "faultline cluster up (same)" "$fl_create" \
  "$(( create > 0 ? (fl_create * 100 + create / 2) / create : 0 ))" "$(( usable > 0 ? (fl_create * 100 + usable / 2) / usable : 0 ))"
printf '%-38s %9ss\n' "  of which: the readiness after kind" "${fl_ready:-?}"
printf '%-38s %9ss\n' "  of which: baseline for cluster check" "${fl_baseline:-?}"
printf '%-38s %9ss\n' "cluster delete" "$delete"
printf '%-38s %8sMiB\n' "peak memory of node containers" "$(cat "$peak_file" 2>/dev/null || echo 0)"
