#!/usr/bin/env bash
# Builds the Kubernetes server binaries from the Go module proxy.
# k8s.io/kubernetes requires its staging modules at v0.0.0, so a wrapper module requires
# k8s.io/kubernetes and replaces every staging module with its published v0.X.Y.
source "$(dirname "$0")/lib.sh"
v=$KUBERNETES_VERSION
out=$BIN_CACHE/kubernetes-$v
[ -x "$out/kubeadm" ] && { log "kubernetes $v: cached"; exit 0; }
minor=$(echo "$v" | cut -d. -f2); patch=$(echo "$v" | cut -d. -f3)
staging_v="v0.$minor.$patch"
mod=$SRC_CACHE/kubernetes-$v
mkdir -p "$mod"
build() {
  cd "$mod"
  go mod download -json "k8s.io/kubernetes@$v" >/dev/null
  local gomod; gomod=$(go env GOMODCACHE)/cache/download/k8s.io/kubernetes/@v/$v.mod
  {
    echo "module faultline.local/kubernetes-build"
    echo "go $(awk '/^go /{print $2}' "$gomod")"
    echo "require k8s.io/kubernetes $v"
    # every `k8s.io/x => ./staging/src/k8s.io/x` becomes `k8s.io/x => k8s.io/x v0.X.Y`
    awk -v sv="$staging_v" '$2=="=>" && $3 ~ /^\.\/staging/ {print "replace " $1 " => " $1 " " sv}' "$gomod"
  } > go.mod
  local ld="-s -w"
  local pkg=k8s.io/component-base/version
  ld+=" -X $pkg.gitVersion=$v -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean"
  ld+=" -X $pkg.buildDate=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  ld+=" -X k8s.io/client-go/pkg/version.gitVersion=$v -X k8s.io/client-go/pkg/version.gitMajor=1 -X k8s.io/client-go/pkg/version.gitMinor=$minor"
  local tmp; tmp=$(mktemp -d "$BIN_CACHE/.kubernetes.XXXX")
  go build -mod=mod -trimpath -ldflags "$ld" -o "$tmp/" \
    k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
    k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kube-proxy \
    k8s.io/kubernetes/cmd/kubelet k8s.io/kubernetes/cmd/kubeadm k8s.io/kubernetes/cmd/kubectl
  # the pause container is a few lines of C shipped in the same module
  cp "$(go env GOMODCACHE)/k8s.io/kubernetes@$v/build/pause/linux/pause.c" "$tmp/pause.c"
  gcc -Os -Wall -Werror -static -DVERSION="v$PAUSE_VERSION-faultline" -o "$tmp/pause" "$tmp/pause.c"
  strip "$tmp/pause"; rm "$tmp/pause.c"
  "$tmp/kubeadm" version -o short | grep -qx "$v"
  publish_dir "$tmp" "$out"
}
step "kubernetes-$v" build
