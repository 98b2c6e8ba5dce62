#!/usr/bin/env bash
# Fuzzes one target for a while: scripts/fuzz.sh TARGET [SECONDS]   (default 120 s)
#
# TARGET is one of the names below (or Class#method). Uses Jazzer's JUnit integration (JAZZER_FUZZ=1),
# so only one target per run. The corpus it builds goes to .cifuzz-corpus/<Class>/<method>/ (not
# committed); a crashing input is written to the target's src/test/resources/.../<Class>Inputs/<method>/
# directory, where plain `./mvnw test` replays it from then on: give it a readable name, fix the bug, add
# a named regression test, and commit it. The libFuzzer log (executions, coverage, findings) is
# target/fuzz-TARGET.log. See docs/fuzzing.md.
set -euo pipefail
cd "$(dirname "$0")/.."

declare -A TARGETS=(
  [startup]='io.usher.protocol.StartupPacketFuzzTest#startupPacket'
  [client-framing]='io.usher.protocol.MessageScannerFuzzTest#clientFraming'
  [server-framing]='io.usher.protocol.MessageScannerFuzzTest#serverFraming'
  [tracker]='io.usher.prepared.StatementTrackerFuzzTest#statementTracker'
  [ini]='io.usher.config.ConfigFuzzTest#iniConfig'
  [connection-string]='io.usher.config.ConfigFuzzTest#connectionString'
  [userlist]='io.usher.config.ConfigFuzzTest#userList'
  [scram-server]='io.usher.auth.ScramExchangeFuzzTest#scramServer'
  [scram-client]='io.usher.auth.ScramExchangeFuzzTest#scramClient'
)

if [ $# -lt 1 ] || [ "$1" = -h ] || [ "$1" = --help ]; then
  echo "usage: $0 TARGET [SECONDS]"; echo "targets: ${!TARGETS[*]}"; exit 2
fi
target=${TARGETS[$1]:-$1}
seconds=${2:-120}
case $target in *#*) ;; *) echo "unknown target: $1 (one of: ${!TARGETS[*]})" >&2; exit 2;; esac
name=${1//[^A-Za-z0-9_-]/_}

mkdir -p target
export JAZZER_FUZZ=1
export JAZZER_MAX_DURATION="${seconds}s"
status=0
./mvnw -B -q test -Dtest="$target" -Dsurefire.failIfNoSpecifiedTests=false \
  -Djazzer.max_duration="${seconds}s" -Dnetty.leakDetection=simple || status=$?

class=${target%%#*}
out=target/surefire-reports/$class-output.txt
[ -f "$out" ] && cp "$out" "target/fuzz-$name.log"
if [ -f "target/fuzz-$name.log" ]; then
  grep -E '^#[0-9]+' "target/fuzz-$name.log" | tail -1 || true
  grep -E 'Done [0-9]+ runs|FuzzTestFinding|== Java Exception' "target/fuzz-$name.log" | head -5 || true
fi
exit $status
