#!/usr/bin/env bash
# Microbenchmarks of the hot path (JMH 1.37): framing (MessageScanner, both directions) and transaction
# pooling's prepared-statement rewriting (StatementTracker). Sources: src/test/java/io/usher/bench.
#
#   scripts/jmh.sh                       # all of them, with JMH's GC profiler (allocation per operation)
#   scripts/jmh.sh FramingBench -f 2     # a regex of benchmark names, then any JMH options
#
# Figures are nanoseconds per operation on this machine; compare runs on one machine, not across.
set -euo pipefail
cd "$(dirname "$0")/.."
./mvnw -q -B test-compile
cp_file=target/jmh.classpath
./mvnw -q -B dependency:build-classpath -Dmdep.includeScope=test -Dmdep.outputFile="$cp_file" >/dev/null
pattern=${1:-io.usher.bench}
shift || true
exec java -Dio.netty.leakDetection.level=disabled -cp "target/test-classes:target/classes:$(cat "$cp_file")" \
    org.openjdk.jmh.Main "$pattern" -prof gc "$@"
