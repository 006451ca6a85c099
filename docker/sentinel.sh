#!/bin/sh
# Writes this Sentinel's config (Sentinel rewrites it, so it cannot be a read-only mount) and runs it.
set -eu
cat > /data/sentinel.conf <<CONF
port 26379
sentinel resolve-hostnames yes
sentinel announce-hostnames yes
sentinel announce-ip ${SENTINEL_HOSTNAME}
sentinel monitor mymaster redis-master 6379 2
sentinel down-after-milliseconds mymaster 2000
sentinel failover-timeout mymaster 10000
sentinel parallel-syncs mymaster 1
CONF
exec redis-sentinel /data/sentinel.conf
