#!/usr/bin/env bash
# The offline forge: builds what is missing (Kubernetes, etcd, CoreDNS, kind, flannel,
# local-path-provisioner, k6, kwok, Prometheus and Alertmanager, and every image), reusing everything cached.
# FAULTLINE_FORGE=auto (default) skips the image builds where stock kind images can be pulled;
# =always forges regardless; =never only builds the CLI tools.
source "$(dirname "$0")/lib.sh"
here=$(dirname "$0")
t0=$SECONDS
mode=${FAULTLINE_FORGE:-auto}
case $mode in auto|always|never) ;; *) die "FAULTLINE_FORGE must be auto, always or never (got '$mode')";; esac
timeout 20 docker info >/dev/null 2>&1 || die "Docker does not answer; run make setup first"

free_kb=$(df -Pk "$FAULTLINE_CACHE" | awk 'NR==2{print $4}')
(( free_kb > 8 * 1024 * 1024 )) || die "less than 8 GiB free under $FAULTLINE_CACHE; free disk space and run make forge again"

stock=no
if [ "$mode" = auto ]; then
  stock_image=kindest/node:v1.34.0  # kind v0.30.0's default node image
  if timeout 30 docker pull -q "$stock_image" >/dev/null 2>&1; then stock=yes; fi
fi

bash "$here/build-go-tools.sh"
if [ $stock = yes ]; then
  log "stock images can be pulled here ($stock_image): using them, skipping the image forge (FAULTLINE_FORGE=always forges anyway)"
elif [ "$mode" != never ]; then
  log "no container registry reachable: forging every image from source"
  bash "$here/build-kubernetes.sh"
  bash "$here/build-images.sh"
fi

# stable paths for the CLI and the tests
mkdir -p "$BIN_CACHE/current"
ln -sfn "$BIN_CACHE/kind-$KIND_VERSION/kind" "$BIN_CACHE/current/kind"
ln -sfn "$BIN_CACHE/k6-$K6_VERSION/k6" "$BIN_CACHE/current/k6"
ln -sfn "$BIN_CACHE/kwok-$KWOK_VERSION/kwok" "$BIN_CACHE/current/kwok"
ln -sfn "$BIN_CACHE/prometheus-$PROMETHEUS_VERSION/promtool" "$BIN_CACHE/current/promtool"
[ -x "$BIN_CACHE/kubernetes-$KUBERNETES_VERSION/kubectl" ] && ln -sfn "$BIN_CACHE/kubernetes-$KUBERNETES_VERSION/kubectl" "$BIN_CACHE/current/kubectl"
log "forge finished in $((SECONDS - t0))s (tools in $BIN_CACHE/current)"
