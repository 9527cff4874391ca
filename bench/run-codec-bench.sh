#!/usr/bin/env bash
# Codec benchmark on real WAL: pgvault's codecs against the zstd and lz4 command-line
# tools, same files, same run. Prints figures and ratios. Not a test.
#   bench/run-codec-bench.sh [--major 17] [--scale 20] [--seconds 40] [--max-segments 40]
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
command -v pgbench >/dev/null || need+=(postgresql-client)
command -v zstd >/dev/null || need+=(zstd)
command -v lz4 >/dev/null || need+=(lz4)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq && apt-get install -y -qq "${need[@]}"
fi
if [ "$(id -u)" = "0" ] && ! id pgvault >/dev/null 2>&1; then
  useradd --system --no-create-home --shell /usr/sbin/nologin pgvault
fi
mvn -B -q -Pbench -pl bench -am package -DskipTests
java -Dpgvault.test.pgDists="$PWD/core/target/pg-dists" -jar bench/target/pgvault-bench.jar "$@"
