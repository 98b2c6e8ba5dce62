#!/usr/bin/env bash
# Measures a rolling restart: two Ushers on one port (so_reuseport), each restarted in turn (SIGTERM's
# WAIT_FOR_CLIENTS, then a new instance) while short-lived clients connect, run one transaction and
# disconnect. Prints "failed of total" for connections and transactions.
#
#   scripts/rolling-restart.sh [SECONDS] [THREADS]        (defaults 12 and 8; at most 20000 connections)
#
# Runs RollingRestartUnderLoadTest against a throwaway PostgreSQL. As root, and where the sysctl is
# writable, it runs once with net.ipv4.tcp_migrate_req=0 and once with 1, and puts the old value back;
# otherwise once with the current value. See docs/fleet.md for the figures and what they mean.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-12}
threads=${2:-8}
key=/proc/sys/net/ipv4/tcp_migrate_req

run() {
  local status=0
  ./mvnw -q -B -Dtest=RollingRestartUnderLoadTest -Dsurefire.failIfNoSpecifiedTests=false \
    -Dusher.rolling.seconds="$seconds" -Dusher.rolling.threads="$threads" test >/dev/null 2>&1 || status=$?
  grep -a '^rolling restart:' target/surefire-reports/io.usher.it.RollingRestartUnderLoadTest-output.txt || true
  [ "$status" = 0 ] || echo "(the test failed: see target/surefire-reports/io.usher.it.RollingRestartUnderLoadTest.txt)"
}

if [ ! -r "$key" ]; then
  echo "no $key (Linux before 5.14?): measuring as the kernel is"
  run
elif [ "$(id -u)" = 0 ] && [ -w "$key" ]; then
  old=$(cat "$key")
  trap 'echo "$old" > "$key"' EXIT
  for v in 0 1; do
    echo "$v" > "$key"
    run
  done
else
  echo "net.ipv4.tcp_migrate_req=$(cat "$key") (not root: not changing it)"
  run
fi
