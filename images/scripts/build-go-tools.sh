#!/usr/bin/env bash
# Builds every Go component besides Kubernetes from the Go module proxy, each from a small
# wrapper module (so modules that rely on replace directives, like etcd's, build too).
source "$(dirname "$0")/lib.sh"

# gobuild NAME MODULE@VERSION "EXTRA GO.MOD LINES" "LDFLAGS" "PKG=BINARY ..." : binaries land in $BIN_CACHE/NAME
gobuild() {
  local name=$1 modver=$2 replaces=$3 ldflags=$4 targets=$5
  local out=$BIN_CACHE/$name
  if [ -f "$out/.complete" ]; then log "$name: cached"; return 0; fi
  local mod=$SRC_CACHE/$name
  _build() {
    rm -rf "$mod"; mkdir -p "$mod"; cd "$mod"
    printf 'module faultline.local/build/%s\n\ngo 1.24\n\nrequire %s %s\n%s\n' \
      "${name%%-v*}" "${modver%@*}" "${modver#*@}" "$replaces" > go.mod
    local tmp t; tmp=$(mktemp -d "$BIN_CACHE/.$name.XXXX"); chmod 0755 "$tmp"
    for t in $targets; do
      go build -mod=mod -trimpath -ldflags "-s -w $ldflags" -o "$tmp/${t#*=}" "${t%=*}"
      "$tmp/${t#*=}" --help >/dev/null 2>&1 || "$tmp/${t#*=}" version >/dev/null 2>&1 || [ "${t#*=}" = flannel ] \
        || { echo "built ${t#*=} does not run"; return 1; }
    done
    touch "$tmp/.complete"
    publish_dir "$tmp" "$out"
  }
  step "$name" _build
}

E=$ETCD_VERSION
etcd_replaces=""
for m in api/v3 client/pkg/v3 client/v3 etcdctl/v3 etcdutl/v3 pkg/v3 server/v3 tests/v3; do
  etcd_replaces+="replace go.etcd.io/etcd/$m => go.etcd.io/etcd/$m $E"$'\n'
done

gobuild "etcd-$E" "go.etcd.io/etcd/server/v3@$E" "$etcd_replaces" "" \
  "go.etcd.io/etcd/server/v3=etcd go.etcd.io/etcd/etcdctl/v3=etcdctl"
gobuild "coredns-$COREDNS_VERSION" "github.com/coredns/coredns@$COREDNS_VERSION" "" "" github.com/coredns/coredns=coredns
gobuild "kind-$KIND_VERSION" "sigs.k8s.io/kind@$KIND_VERSION" "" "" sigs.k8s.io/kind=kind
# flannel v0.28.4 pins tencentcloud-sdk-go/common v1.3.79, which the module proxy does not serve;
# its amd64 UDP backend is cgo (it links against the bookworm glibc its image also has)
CGO_ENABLED=1 gobuild "flannel-$FLANNEL_VERSION" "github.com/flannel-io/flannel@$FLANNEL_VERSION" \
  "require github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common v1.3.80" \
  "-X github.com/flannel-io/flannel/pkg/version.Version=$FLANNEL_VERSION" github.com/flannel-io/flannel=flanneld
# the flannel CNI plugin lived in containernetworking/plugins up to v0.9.x
gobuild "cni-flannel-$CNI_FLANNEL_PLUGINS_VERSION" "github.com/containernetworking/plugins@$CNI_FLANNEL_PLUGINS_VERSION" "" "" \
  github.com/containernetworking/plugins/plugins/meta/flannel=flannel
gobuild "local-path-provisioner-$LOCAL_PATH_PROVISIONER_VERSION" "github.com/rancher/local-path-provisioner@$LOCAL_PATH_PROVISIONER_VERSION" "" \
  "-X main.VERSION=$LOCAL_PATH_PROVISIONER_VERSION" github.com/rancher/local-path-provisioner=local-path-provisioner
gobuild "k6-$K6_VERSION" "go.k6.io/k6@$K6_VERSION" "" "" go.k6.io/k6=k6
gobuild "kwok-$KWOK_VERSION" "sigs.k8s.io/kwok@$KWOK_VERSION" "" "" sigs.k8s.io/kwok/cmd/kwok=kwok
# the web UIs' assets are not built (the builtinassets tag is off): the harness uses the HTTP APIs only
gobuild "prometheus-$PROMETHEUS_VERSION" "github.com/prometheus/prometheus@$PROMETHEUS_VERSION" "" \
  "-X github.com/prometheus/common/version.Version=$PROMETHEUS_VERSION" \
  "github.com/prometheus/prometheus/cmd/prometheus=prometheus github.com/prometheus/prometheus/cmd/promtool=promtool"
# Alertmanager embeds its built UI (ui/app/dist), which its module does not ship: it builds from a copy of the
# module with a one-page placeholder there, through a replace directive
am_source() {
  local dir; dir=$(go mod download -json "github.com/prometheus/alertmanager@$ALERTMANAGER_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  [ -f "$dir/ui/web.go" ] || { echo "no ui/web.go in github.com/prometheus/alertmanager@$ALERTMANAGER_VERSION ($dir)"; return 1; }
  rm -rf "$AM_SRC"; cp -r "$dir" "$AM_SRC"; chmod -R u+w "$AM_SRC"
  mkdir -p "$AM_SRC/ui/app/dist/elm" "$AM_SRC/ui/app/dist/mantine"
  for d in elm mantine; do echo '<!doctype html><title>Alertmanager</title><p>UI not built (faultline forge): use the HTTP API.' > "$AM_SRC/ui/app/dist/$d/index.html"; done
}
AM_SRC=$SRC_CACHE/alertmanager-source-$ALERTMANAGER_VERSION
[ -f "$BIN_CACHE/alertmanager-$ALERTMANAGER_VERSION/.complete" ] || step "alertmanager-source-$ALERTMANAGER_VERSION" am_source
gobuild "alertmanager-$ALERTMANAGER_VERSION" "github.com/prometheus/alertmanager@$ALERTMANAGER_VERSION" \
  "replace github.com/prometheus/alertmanager => $AM_SRC" \
  "-X github.com/prometheus/common/version.Version=$ALERTMANAGER_VERSION" \
  "github.com/prometheus/alertmanager/cmd/alertmanager=alertmanager"

# kwok run on its own (not through kwokctl) needs the lifecycle stages as config: the ones kwokctl passes
# (node-initialize, heartbeat with lease, and the pod stages), taken from the module's kustomize/stage
kwok_stages() {
  local out=$BIN_CACHE/kwok-$KWOK_VERSION/stages.yaml dir f tmp
  dir=$(go mod download -json "sigs.k8s.io/kwok@$KWOK_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  [ -d "$dir/kustomize/stage" ] || { echo "no kustomize/stage in sigs.k8s.io/kwok@$KWOK_VERSION ($dir)"; return 1; }
  tmp=$(mktemp "$out.XXXX")
  for f in node/fast/node-initialize.yaml node/heartbeat-with-lease/node-heartbeat-with-lease.yaml \
    pod/fast/pod-ready.yaml pod/fast/pod-complete.yaml pod/fast/pod-delete.yaml; do
    printf -- '---\n' >> "$tmp"
    cat "$dir/kustomize/stage/$f" >> "$tmp"
  done
  chmod 0644 "$tmp"
  mv "$tmp" "$out"
}
if [ -f "$BIN_CACHE/kwok-$KWOK_VERSION/stages.yaml" ]; then log "kwok stages: cached"; else step "kwok-stages-$KWOK_VERSION" kwok_stages; fi
