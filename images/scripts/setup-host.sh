#!/usr/bin/env bash
# Makes Docker usable on this host, idempotently: install it if missing, work around a
# capability bounding set without CAP_SYS_RESOURCE, start dockerd, install npm dependencies.
# On a host where Docker already works it changes nothing.
source "$(dirname "$0")/lib.sh"
REPO_DIR=$(cd "$FORGE_DIR/.." && pwd)

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else die "need root to $*; run make setup as root or with sudo"; fi; }

docker_works() { timeout 20 docker info >/dev/null 2>&1; }

# CAP_SYS_RESOURCE is bit 24 of the bounding set.
cap_sys_resource_missing() {
  local bnd; bnd=$(awk '/^CapBnd/{print $2}' /proc/self/status)
  (( (16#$bnd >> 24 & 1) == 0 ))
}

install_docker() {
  command -v apt-get >/dev/null || die "Docker is not installed and this host has no apt-get; install Docker (20.10+) and run make setup again"
  log "installing docker.io from Debian's packages"
  as_root apt-get update -qq || die "apt-get update failed; check that Debian's package mirror is reachable"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io jq debootstrap >/dev/null \
    || die "apt-get install docker.io failed; install Docker by hand and run make setup again"
}

install_runc_wrapper() {
  local want=/usr/local/lib/faultline/runc-drop-sysresource
  as_root install -D -m 0755 "$FORGE_DIR/host/runc-drop-sysresource" "$want"
  local cfg=/etc/docker/daemon.json current='{}'
  [ -s "$cfg" ] && current=$(cat "$cfg")
  local merged
  merged=$(jq --arg p "$want" '.runtimes["faultline-runc"] = {path: $p} | .["default-runtime"] = "faultline-runc"' <<<"$current") \
    || die "$cfg is not valid JSON; fix it and run make setup again"
  if [ "$merged" != "$current" ]; then
    log "CAP_SYS_RESOURCE is missing from this host's bounding set: registering the runc wrapper as Docker's default runtime"
    as_root mkdir -p /etc/docker
    printf '%s\n' "$merged" | as_root tee "$cfg" >/dev/null
    return 0
  fi
  return 1
}

start_dockerd() {
  log "starting dockerd"
  if command -v systemctl >/dev/null && systemctl is-system-running >/dev/null 2>&1; then
    as_root systemctl restart docker
  else
    as_root pkill -x dockerd 2>/dev/null && sleep 2
    mkdir -p "$FAULTLINE_CACHE/logs"
    as_root sh -c "nohup dockerd >'$FAULTLINE_CACHE/logs/dockerd.log' 2>&1 &"
  fi
  for _ in $(seq 1 60); do docker_works && return 0; sleep 1; done
  die "dockerd did not start; see $FAULTLINE_CACHE/logs/dockerd.log"
}

# every kind node runs systemd and its own inotify users; with several nodes up, the default 128 instances run out
# and `kind create` fails waiting for "Multi-User System" (kind's known issue). Raised only where lower.
raise_inotify_limits() {
  local key want have
  for key in fs.inotify.max_user_instances=512 fs.inotify.max_user_watches=524288; do
    want=${key#*=}; key=${key%=*}
    have=$(sysctl -n "$key" 2>/dev/null || echo "$want")
    if [ "$have" -lt "$want" ]; then
      as_root sysctl -qw "$key=$want" && log "$key: $have -> $want (kind nodes need more than the default)"
    fi
  done
}

main() {
  # kind nodes are Linux containers run by a Linux dockerd; elsewhere (Docker Desktop) use stock images
  [ "$(uname -s)" = Linux ] || die "make setup prepares Linux hosts only (this is $(uname -s)); elsewhere install Docker and kind yourself and let kind use its stock node image"
  command -v docker >/dev/null && command -v jq >/dev/null && command -v debootstrap >/dev/null || install_docker
  local changed=0
  if cap_sys_resource_missing; then install_runc_wrapper && changed=1; fi
  if ! docker_works || [ $changed = 1 ]; then start_dockerd; fi
  docker_works || die "Docker does not answer (docker info); start it and run make setup again"
  # kind bind-mounts /lib/modules into every node; kernels without loadable modules have none
  [ -d /lib/modules ] || as_root mkdir -p /lib/modules
  raise_inotify_limits
  log "docker: $(docker version --format '{{.Server.Version}}') ($(docker info --format '{{.DefaultRuntime}}') runtime, cgroup v$(docker info --format '{{.CgroupVersion}}'))"
  if [ -f "$REPO_DIR/package.json" ] && [ ! -d "$REPO_DIR/node_modules" ]; then
    log "installing npm dependencies"
    (cd "$REPO_DIR" && npm ci --no-audit --no-fund >/dev/null) || die "npm ci failed; check that the npm registry is reachable"
  fi
}
main "$@"
