#!/usr/bin/env bash
# Sets up a Debian/Ubuntu machine for the demo and the tests: the system packages they run
# (Redis 7.0 and Valkey 8 with their Sentinels, HAProxy, PostgreSQL; Chromium, openssl, libfaketime and iptables for the tests),
# then the npm dependencies.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=()
need() { command -v "$1" >/dev/null || packages+=("$2"); }
need redis-server redis-server
need redis-sentinel redis-sentinel
need redis-cli redis-tools
need haproxy haproxy
# The demo's database. Debian keeps its programs in /usr/lib/postgresql/<version>/bin, off PATH; the
# demo starts its own server (initdb in a temp dir), never the package's system service.
if ! command -v initdb >/dev/null && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  packages+=(postgresql)
fi
need chromium chromium
need openssl openssl
# The crash-of-every-node series (npm run chaos -- --fault crash-all) builds its LD_PRELOAD shim.
need cc gcc
# The clock-skew test shifts an app process's clock with libfaketime.
need faketime faketime
# The partition tests cut links between network namespaces with iptables (and ip, from iproute2).
need iptables iptables
need ip iproute2
sudo_cmd=()
[ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
# Valkey 8 (WAITAOF, FAILOVER), the second server the durability, failover, partition and Cluster
# suites run on: from bookworm-backports, beside Redis 7.0. The harness picks binaries by path
# (/usr/bin/valkey-server), so neither shadows the other; the package's system service is never used.
if ! command -v valkey-server >/dev/null || ! command -v valkey-sentinel >/dev/null; then
  if ! grep -rqs "bookworm-backports" /etc/apt/sources.list /etc/apt/sources.list.d/; then
    echo "deb http://deb.debian.org/debian bookworm-backports main" |
      "${sudo_cmd[@]}" tee /etc/apt/sources.list.d/bookworm-backports.list >/dev/null
  fi
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends \
    -t bookworm-backports valkey-server valkey-sentinel >/dev/null
fi
if [ ${#packages[@]} -gt 0 ]; then
  echo "installing ${packages[*]}"
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends \
    "${packages[@]}" >/dev/null
fi
npm ci --no-audit --no-fund
