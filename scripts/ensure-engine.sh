#!/usr/bin/env bash
# Makes sure this machine can run Berth and its tests: the Docker engine (Debian's docker.io),
# the packages the tests use, and a running dockerd answering on its socket.
# Idempotent: when everything is there it only checks, in well under a second.
set -euo pipefail

# The engine, and what the tests use: a static busybox for FROM-scratch images, a real OCI
# registry and htpasswd for its credentials, curl for the readiness probe.
PACKAGES=(docker.io busybox-static docker-registry apache2-utils curl)
# More packages on request: the test command adds chromium (the dashboard's browser test).
read -r -a EXTRA <<<"${BERTH_EXTRA_PACKAGES:-}"
PACKAGES+=("${EXTRA[@]}")
SOCKET=/var/run/docker.sock
ENGINE_LOG=${BERTH_ENGINE_LOG:-/var/log/berth-dockerd.log}
WAIT_SECONDS=${BERTH_ENGINE_WAIT:-60}

say() { printf 'berth-setup: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

engine_answers() {
  if [ -n "${DOCKER_HOST:-}" ]; then
    docker version --format '{{.Server.Version}}' >/dev/null 2>&1
  else
    [ -S "$SOCKET" ] && curl -fsS --max-time 3 --unix-socket "$SOCKET" http://docker/_ping >/dev/null 2>&1
  fi
}

# 1. Packages.
missing=()
for package in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "ok installed" || missing+=("$package")
done

if [ ${#missing[@]} -gt 0 ]; then
  if ! command -v dpkg-query >/dev/null 2>&1; then
    die "this is not a Debian-based system; install the Docker engine, busybox (static), docker-registry and htpasswd, start the engine, and run again"
  else
    [ -f /etc/debian_version ] || die "this is not a Debian-based system; install ${missing[*]} with your package manager, start the engine, and run again"
    [ "$(id -u)" -eq 0 ] || die "packages ${missing[*]} are missing and installing them needs root: run 'sudo make test' or 'sudo apt-get install -y ${missing[*]}'"
    say "installing ${missing[*]} (Debian packages)"
    export DEBIAN_FRONTEND=noninteractive
    apt_log=$(mktemp)
    if ! apt-get update -qq >"$apt_log" 2>&1; then
      tail -n 15 "$apt_log" >&2; die "apt-get update failed (its output is above); check the package sources in /etc/apt"
    fi
    if ! apt-get install -y -qq "${missing[@]}" >"$apt_log" 2>&1; then
      tail -n 15 "$apt_log" >&2; die "apt-get install ${missing[*]} failed (its output is above)"
    fi
    rm -f "$apt_log"
  fi
fi
busybox_path=$(command -v busybox || true)
[ -n "$busybox_path" ] || die "busybox is not installed; apt-get install busybox-static"

# 2. The engine.
if engine_answers; then
  exit 0
fi
if [ -n "${DOCKER_HOST:-}" ]; then
  die "DOCKER_HOST=$DOCKER_HOST does not answer; start that engine or unset DOCKER_HOST to use a local one"
fi
[ "$(id -u)" -eq 0 ] || die "the Docker engine is not running and starting it needs root: run 'sudo dockerd &' or 'sudo make test'"

say "starting dockerd (log: $ENGINE_LOG)"
mkdir -p "$(dirname "$ENGINE_LOG")"
# setsid: the engine outlives this script and is not killed with the test run's process group.
setsid dockerd >"$ENGINE_LOG" 2>&1 < /dev/null &
engine_pid=$!

for _ in $(seq 1 $((WAIT_SECONDS * 10))); do
  if engine_answers; then
    say "engine ready ($(docker version --format '{{.Server.Version}}' 2>/dev/null || echo up))"
    exit 0
  fi
  if ! kill -0 "$engine_pid" 2>/dev/null; then
    say "error: dockerd exited during start-up; the end of its log:"
    tail -n 25 "$ENGINE_LOG" >&2 || true
    exit 1
  fi
  sleep 0.1
done
say "error: dockerd did not answer on $SOCKET within ${WAIT_SECONDS}s; the end of its log:"
tail -n 25 "$ENGINE_LOG" >&2 || true
exit 1
