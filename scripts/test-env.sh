#!/usr/bin/env bash
# What the test suite needs besides `npm ci`, installed or started when missing: Debian's Chromium (the HTML
# report test drives it with playwright-core; no browser is ever downloaded), PostgreSQL, Redis and NATS
# with JetStream on their usual local ports. `npm test` runs this first (pretest); `.ci/run` too.
set -euo pipefail

log() { printf '== %s\n' "$*" >&2; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo -n "$@"; else return 1; fi; }
apt_updated=0
apt_install() {
  if [ "$apt_updated" = 0 ]; then as_root apt-get update -qq; apt_updated=1; fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

if [ ! -x /usr/bin/chromium ]; then
  log "installing Debian's chromium (for the report test)"
  apt_install chromium || { echo "the report test needs /usr/bin/chromium: run 'apt-get install chromium' as root" >&2; exit 1; }
fi
if ! command -v pg_isready >/dev/null || ! command -v redis-cli >/dev/null; then
  apt_install postgresql-client redis-tools || true
fi

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
wait_port() { for _ in $(seq 1 30); do port_open "$1" && return 0; sleep 1; done; echo "$2 did not start on port $1" >&2; return 1; }

if ! port_open 5432; then
  log "starting PostgreSQL"
  as_root pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main start
  wait_port 5432 PostgreSQL
fi
if ! port_open 6379; then
  log "starting Redis"
  as_root mkdir -p /var/lib/redis /var/log/redis
  as_root redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log
  wait_port 6379 Redis
fi
if ! port_open 4222; then
  log "starting NATS with JetStream"
  as_root start-stop-daemon --start --oknodo --background --exec /usr/sbin/nats-server -- -a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server -l /var/log/nats-server.log
  wait_port 4222 NATS
fi
