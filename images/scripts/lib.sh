#!/usr/bin/env bash
# Shared helpers for the offline forge. Sourced, never run.
set -euo pipefail
FORGE_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=../versions.env
source "$FORGE_DIR/versions.env"
# shellcheck source=../tools.env
source "$FORGE_DIR/tools.env"
# Cache outside the checkout so a fresh clone (CI) reuses earlier builds.
FAULTLINE_CACHE=${FAULTLINE_CACHE:-$HOME/.cache/faultline}
BIN_CACHE=$FAULTLINE_CACHE/bin
SRC_CACHE=$FAULTLINE_CACHE/src
mkdir -p "$BIN_CACHE" "$SRC_CACHE"
export GOFLAGS=${GOFLAGS:-} CGO_ENABLED=0 GOTOOLCHAIN=local

log() { printf '[forge %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
# One clear line and exit 2: the forge's contract for anything it cannot do.
die() { printf 'forge: %s\n' "$*" >&2; exit 2; }

# Run a step, turning a failure into one line that names the step and the log to read.
step() {
  local name=$1; shift
  local logf="$FAULTLINE_CACHE/logs/$name.log"
  mkdir -p "$(dirname "$logf")"
  local t0=$SECONDS
  log "$name: building (log: $logf)"
  # a subshell that is not an `if` condition, so errexit holds inside the step
  local rc=0
  set +e
  (set -e; "$@") >"$logf" 2>&1
  rc=$?
  set -e
  if [ $rc != 0 ]; then
    tail -n 15 "$logf" >&2
    if grep -qiE 'no space left on device' "$logf"; then die "$name failed: the disk is full (df -h $FAULTLINE_CACHE); free space and run make forge again"; fi
    if grep -qiE 'proxy.golang.org|dial tcp|i/o timeout|TLS handshake|connection refused' "$logf"; then die "$name failed: the Go module proxy could not be reached ($(go env GOPROXY)); check the network and run make forge again"; fi
    die "$name failed; see $logf"
  fi
  log "$name: done in $((SECONDS - t0))s"
  # bench-forge reads these: the first (cold) build of each step and every rebuild
  printf '%s\t%s\t%s\n' "$(date -u +%FT%TZ)" "$name" "$((SECONDS - t0))" >>"$FAULTLINE_CACHE/forge-times.tsv"
}

# Install a file atomically: a failed build never leaves a half-written artefact under its final name.
publish_dir() { # tmpdir finaldir
  rm -rf "$2"; mv "$1" "$2"
}
