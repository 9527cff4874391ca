#!/usr/bin/env bash
# A whole recovery (restore + replay to the end of the archive): pgvault recover + wal-fetch
# against pgBackRest restore + archive-get (plain and async), same data, one run. Not a test.
#   bench/run-pitr-bench.sh [--major 15] [--scale 20] [--seconds 60]
# pgBackRest is Debian's package (2.45 on Debian 12, which supports PostgreSQL up to 15).
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
command -v pgbench >/dev/null || need+=(postgresql-client)
command -v pgbackrest >/dev/null || need+=(pgbackrest)
command -v curl >/dev/null || need+=(curl)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq && apt-get install -y -qq "${need[@]}"
fi
if [ "$(id -u)" = "0" ] && ! id pgvault >/dev/null 2>&1; then
  useradd --system --no-create-home --shell /usr/sbin/nologin pgvault
fi
mvn -B -q -Pbench clean package -DskipTests
java -Dpgvault.test.pgDists="$PWD/core/target/pg-dists" -cp bench/target/pgvault-bench.jar io.pgvault.bench.PitrBench \
  --server-jar server/target/pgvault-server.jar --launcher bin/pgvault "$@"
