#!/usr/bin/env bash
# The soak, outside CI: scripts/soak.sh [MINUTES] [CONNECTIONS] [BUSY] [CHURN_PER_SECOND] [SAMPLE_SECONDS]
#   defaults: 30 minutes, 10,000 client connections, 200 busy clients, 50 reconnects a second, a sample every 10 s
#
# Starts a throwaway PostgreSQL (the tests' harness), Usher as its own process (-Xmx1g, as bin/usher), and the load
# driver io.usher.it.SoakDriver from the test classes: CONNECTIONS - BUSY idle clients (raw protocol, md5 login),
# BUSY pgjdbc clients running token-checked queries, CHURN idle clients a second closed (Terminate or reset) and
# replaced, a few idle clients asked for their own token at each sample. Usher's RSS, heap (jstat; after a full GC
# asked for with jcmd), threads and descriptors (/proc) go to target/soak.csv every SAMPLE_SECONDS. Fails (exit 1)
# on any unexpected error, a token of another client, or growth of heap, RSS, threads or descriptors after the
# warm-up. USHER_SOAK_JVM adds JVM options for Usher (e.g. -Dio.netty.leakDetection.level=paranoid).
# Needs a file-descriptor limit above CONNECTIONS + 1000 (both processes hold one per connection).
set -euo pipefail
cd "$(dirname "$0")/.."

minutes=${1:-30}
connections=${2:-10000}
busy=${3:-200}
churn=${4:-50}
sample=${5:-10}

need=$((connections + 1000))
limit=$(ulimit -n)
if [ "$limit" != unlimited ] && [ "$limit" -lt "$need" ]; then
  ulimit -n "$need" 2>/dev/null || { echo "ulimit -n is $limit; $need needed for $connections connections" >&2; exit 2; }
fi

./mvnw -B -q test-compile
./mvnw -B -q dependency:build-classpath -Dmdep.includeScope=test -Dmdep.outputFile=target/soak-classpath.txt >/dev/null
# a copy of the classes, so that a build during the soak does not change them under it
rm -rf target/soak-classes && mkdir -p target/soak-classes
cp -r target/classes target/soak-classes/main && cp -r target/test-classes target/soak-classes/test
cp="$PWD/target/soak-classes/test:$PWD/target/soak-classes/main:$(cat target/soak-classpath.txt)"

jvm=()
for o in ${USHER_SOAK_JVM:-}; do jvm+=(--usher-jvm "$o"); done
java_bin="${JAVA_HOME:+$JAVA_HOME/bin/}java"
exec "$java_bin" --enable-native-access=ALL-UNNAMED -Xmx2g -cp "$cp" io.usher.it.SoakDriver \
  --minutes "$minutes" --connections "$connections" --busy "$busy" --churn "$churn" --sample "$sample" \
  --csv target/soak.csv ${jvm[@]+"${jvm[@]}"}
