#!/usr/bin/env bash
# Builds every container image from Debian packages and the forged binaries, and the kind node
# image that preloads what kubeadm needs. Each image carries a label with the hash of what it was
# built from; an image whose label matches is not rebuilt. Tags land only on finished images.
source "$(dirname "$0")/lib.sh"
LABEL=faultline.forge.key
DEBIAN_MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
DEBIAN_IMAGE=faultline/debian:$DEBIAN_SUITE
NET_IMAGE=faultline/debian-net:$DEBIAN_SUITE
BASE_IMAGE=faultline/kind-base:$DEBIAN_SUITE
AGENT_IMAGE=docker.io/faultline/node-agent:$DEBIAN_SUITE
NODE_IMAGE=${FAULTLINE_NODE_IMAGE_TAG:-faultline/kind-node:$KUBERNETES_VERSION}
V=$KUBERNETES_VERSION
K8S_BIN=$BIN_CACHE/kubernetes-$V
DF=$FORGE_DIR/dockerfiles

# key PARTS... : a short hash of versions.env and each part (a file, a folder's files, or a string)
key() {
  {
    cat "$FORGE_DIR/versions.env"
    local p
    for p in "$@"; do
      if [ -d "$p" ]; then (cd "$p" && find . -type f -print0 | sort -z | xargs -0 sha256sum)
      elif [ -f "$p" ]; then sha256sum <"$p"
      else printf '%s\n' "$p"; fi
    done
  } | sha256sum | cut -c1-16
}
image_id() { docker image inspect -f '{{.Id}}' "$1" 2>/dev/null || true; }
fresh() { # tag key
  # FAULTLINE_FORGE_REBUILD=1 (bench-forge's cold run) rebuilds everything, without Docker's layer cache
  [ -z "${FAULTLINE_FORGE_REBUILD:-}" ] || return 1
  [ "$(docker image inspect -f "{{index .Config.Labels \"$LABEL\"}}" "$1" 2>/dev/null || true)" = "$2" ] \
    && log "$1: cached"
}

DEBIAN_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
build_debian() {
  local k; k=$(key "debootstrap --variant=minbase $DEBIAN_SUITE $DEBIAN_MIRROR PATH=$DEBIAN_PATH")
  fresh "$DEBIAN_IMAGE" "$k" && return 0
  command -v debootstrap >/dev/null || die "debootstrap is missing; run make setup"
  local dir; dir=$(mktemp -d)
  _debootstrap() {
    debootstrap --variant=minbase "$DEBIAN_SUITE" "$dir/rootfs" "$DEBIAN_MIRROR"
    rm -rf "$dir"/rootfs/var/cache/apt/archives/*.deb "$dir"/rootfs/var/lib/apt/lists/*
    tar -C "$dir/rootfs" -c . | docker import --change "LABEL $LABEL=$k" --change 'CMD ["bash"]' \
      --change "ENV PATH=$DEBIAN_PATH" - "$DEBIAN_IMAGE"
  }
  step "debian-$DEBIAN_SUITE" _debootstrap
  rm -rf "$dir"
}

# copied_sources DOCKERFILE CONTEXT : the context paths its COPY lines read (not --from=stage copies), so an
# image's key changes with what it is built from and not with its neighbours in the folder
copied_sources() {
  awk 'toupper($1) == "COPY" && !/--from=/ { for (i = 2; i < NF; i++) if ($i !~ /^--/) print $i }' "$1" | sort -u |
    while read -r src; do printf '%s\n' "$2/$src"; done
}

# dockerfile_image TAGS DOCKERFILE CONTEXT : build FROM the Debian image
dockerfile_image() {
  local tags=$1 file=$2 ctx=$3 t args=() srcs
  mapfile -t srcs < <(copied_sources "$file" "$ctx")
  local k; k=$(key "$(image_id "$DEBIAN_IMAGE")" "$file" "${srcs[@]}")
  fresh "${tags%% *}" "$k" && return 0
  for t in $tags; do args+=(-t "$t"); done
  step "image-$(basename "$file" .Dockerfile)" docker build ${FAULTLINE_FORGE_REBUILD:+--no-cache} --label "$LABEL=$k" --build-arg "DEBIAN_IMAGE=$DEBIAN_IMAGE" \
    -f "$file" "${args[@]}" "$ctx"
}

# binary_image TAG PARENT DEST ENTRYPOINT-JSON FILE... : an image holding forged binaries
binary_image() {
  local tag=$1 parent=$2 dest=$3 entry=$4; shift 4
  local ctx f; ctx=$(mktemp -d)
  for f in "$@"; do cp "$f" "$ctx/"; done
  {
    if [ "$parent" = scratch ]; then echo "FROM scratch"; else echo "FROM $parent"; fi
    echo "COPY . $dest"
    [ -n "$entry" ] && echo "ENTRYPOINT $entry"
    true
  } >"$ctx/Dockerfile"
  local k; k=$(key "$(image_id "$parent")" "$ctx")
  if ! fresh "$tag" "$k"; then
    step "image-$(basename "${tag%%:*}")" docker build ${FAULTLINE_FORGE_REBUILD:+--no-cache} --label "$LABEL=$k" -t "$tag" "$ctx"
  fi
  rm -rf "$ctx"
}

build_node() {
  local preload=("$@") cid="" k
  k=$(key "$(image_id "$BASE_IMAGE")" "$(for i in "${preload[@]}"; do image_id "$i"; done)" \
      "$K8S_BIN/kubeadm" "$K8S_BIN/kubelet" "$K8S_BIN/kubectl" "$FORGE_DIR/node/manifests" \
      "$BIN_CACHE/cni-flannel-$CNI_FLANNEL_PLUGINS_VERSION/flannel")
  fresh "$NODE_IMAGE" "$k" && return 0
  _node() {
    cid=$(docker run -d --entrypoint=sleep --security-opt seccomp=unconfined "$BASE_IMAGE" infinity)
    trap 'docker rm -f "$cid" >/dev/null 2>&1' EXIT
    local b
    for b in kubeadm kubelet kubectl; do docker cp "$K8S_BIN/$b" "$cid:/usr/bin/$b"; done
    docker cp "$BIN_CACHE/cni-flannel-$CNI_FLANNEL_PLUGINS_VERSION/flannel" "$cid:/opt/cni/bin/flannel"
    local m; m=$(mktemp -d)
    for b in default-cni.yaml default-storage.yaml; do
      sed -e "s/FLANNEL_VERSION/$FLANNEL_VERSION/g" -e "s/LOCAL_PATH_PROVISIONER_VERSION/$LOCAL_PATH_PROVISIONER_VERSION/g" \
        "$FORGE_DIR/node/manifests/$b" >"$m/$b"
    done
    docker exec "$cid" mkdir -p /kind/manifests
    docker cp "$m/." "$cid:/kind/manifests/"; rm -rf "$m"
    docker exec "$cid" sh -c "echo $V >/kind/version"
    docker exec -d "$cid" containerd
    docker exec "$cid" sh -c 'for i in $(seq 1 30); do [ -S /run/containerd/containerd.sock ] && ctr version >/dev/null 2>&1 && exit 0; sleep 1; done; exit 1'
    docker save "${preload[@]}" | docker exec -i "$cid" ctr -n k8s.io images import \
      --label=io.cri-containerd.pinned=pinned --all-platforms --no-unpack --digests -
    local have missing=""
    have=$(docker exec "$cid" ctr -n k8s.io images ls -q)
    for i in $(docker exec "$cid" kubeadm config images list --kubernetes-version "$V") "${preload[@]}"; do
      grep -qx "$(normalize "$i")" <<<"$have" || missing+=" $i"
    done
    [ -z "$missing" ] || { echo "images missing from the node's containerd:$missing"; return 1; }
    docker exec "$cid" sh -c 'pkill containerd; for i in $(seq 1 20); do pgrep -x containerd >/dev/null || break; sleep 0.5; done; rm -rf /run/containerd /tmp/*'
    # (STOPSIGNAL is inherited from the base image; Docker 20.10 cannot set it on commit)
    docker commit --change 'ENTRYPOINT ["/usr/local/bin/faultline-node-entrypoint", "/sbin/init"]' \
      --change "LABEL $LABEL=$k" "$cid" "$NODE_IMAGE" >/dev/null
  }
  step "node-image" _node
}

# docker.io short names as containerd records them
normalize() {
  case $1 in
    */*/*) echo "$1" ;;
    *.*/*) echo "$1" ;;
    */*) echo "docker.io/$1" ;;
    *) echo "docker.io/library/$1" ;;
  esac
}

# images made from Debian packages only
build_os_images() {
  build_debian
  dockerfile_image "$NET_IMAGE" "$DF/debian-net.Dockerfile" "$DF"
  dockerfile_image "$BASE_IMAGE" "$DF/kind-base.Dockerfile" "$FORGE_DIR/node"
  dockerfile_image "$AGENT_IMAGE" "$DF/node-agent.Dockerfile" "$DF"
  dockerfile_image "docker.io/library/busybox:latest docker.io/library/busybox:1.35" "$DF/busybox.Dockerfile" "$DF"
  dockerfile_image "docker.io/library/registry:2" "$DF/registry.Dockerfile" "$DF"
  dockerfile_image "docker.io/library/postgres:15" "$DF/postgres.Dockerfile" "$DF"
  dockerfile_image "$HAPROXY_IMAGE" "$DF/haproxy.Dockerfile" "$DF"
  dockerfile_image "faultline/nginx-mtls:$DEBIAN_SUITE" "$DF/nginx-mtls.Dockerfile" "$DF"
}

# images holding the forged binaries, under the names kubeadm and the default manifests ask for
build_component_images() {
  [ -x "$K8S_BIN/kubeadm" ] || die "Kubernetes binaries are missing; run make forge (it builds them first)"
  local B=$BIN_CACHE c
  binary_image "registry.k8s.io/pause:$PAUSE_VERSION" scratch / '["/pause"]' "$K8S_BIN/pause"
  for c in kube-apiserver kube-controller-manager kube-scheduler; do
    binary_image "registry.k8s.io/$c:$V" "$DEBIAN_IMAGE" /usr/local/bin/ "" "$K8S_BIN/$c"
  done
  binary_image "registry.k8s.io/kube-proxy:$V" "$NET_IMAGE" /usr/local/bin/ "" "$K8S_BIN/kube-proxy"
  binary_image "registry.k8s.io/etcd:$ETCD_IMAGE_TAG" "$DEBIAN_IMAGE" /usr/local/bin/ "" "$B/etcd-$ETCD_VERSION/etcd" "$B/etcd-$ETCD_VERSION/etcdctl"
  binary_image "registry.k8s.io/coredns/coredns:$COREDNS_VERSION" "$DEBIAN_IMAGE" / '["/coredns"]' "$B/coredns-$COREDNS_VERSION/coredns"
  binary_image "docker.io/flannel/flannel:$FLANNEL_VERSION" "$NET_IMAGE" /usr/local/bin/ "" "$B/flannel-$FLANNEL_VERSION/flanneld"
  binary_image "docker.io/rancher/local-path-provisioner:$LOCAL_PATH_PROVISIONER_VERSION" "$DEBIAN_IMAGE" /usr/local/bin/ "" \
    "$B/local-path-provisioner-$LOCAL_PATH_PROVISIONER_VERSION/local-path-provisioner"
  # the alerting stack: loaded into a cluster only by a run that asks for alerts (so not in the node image);
  # promtool stays on the host, where rule files are checked before a run changes anything
  binary_image "faultline/prometheus:$PROMETHEUS_VERSION" "$DEBIAN_IMAGE" /usr/local/bin/ '["/usr/local/bin/prometheus"]' \
    "$B/prometheus-$PROMETHEUS_VERSION/prometheus"
  binary_image "faultline/alertmanager:$ALERTMANAGER_VERSION" "$DEBIAN_IMAGE" /usr/local/bin/ '["/usr/local/bin/alertmanager"]' \
    "$B/alertmanager-$ALERTMANAGER_VERSION/alertmanager"
}

# the webhook-blocks-deletion scenario's admission webhook (images/webhook, standard library only): built from
# this repository's source, cached by its hash
# A server of the scenarios written in Go with the standard library only (images/<dir>), built offline into an
# image from scratch, cached by the hash of its source.
build_go_server() {
  local name=$1 src=$FORGE_DIR/$2 out
  out=$BIN_CACHE/$name-$(key "$src")
  _go_server() {
    local tmp; tmp=$(mktemp -d "$BIN_CACHE/.$name.XXXX"); chmod 0755 "$tmp"
    (cd "$src" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$tmp/$name" .)
    touch "$tmp/.complete"
    publish_dir "$tmp" "$out"
  }
  [ -f "$out/.complete" ] || step "$name" _go_server
  binary_image "faultline/$name:v1" scratch / "[\"/$name\"]" "$out/$name"
}

main() {
  docker info >/dev/null 2>&1 || die "Docker does not answer; run make setup"
  build_os_images
  [ "${1:-all}" = os ] && return 0
  build_component_images
  build_go_server volume-webhook webhook
  build_go_server query-engine query-engine
  build_node $("$K8S_BIN/kubeadm" config images list --kubernetes-version "$V") \
    "docker.io/flannel/flannel:$FLANNEL_VERSION" "docker.io/rancher/local-path-provisioner:$LOCAL_PATH_PROVISIONER_VERSION" \
    docker.io/library/busybox:latest "$AGENT_IMAGE"
  log "node image: $NODE_IMAGE"
}
main "$@"
