#!/usr/bin/env bash
# Full base backup of a pgbench cluster (scale 50, about 800 MiB): pgvault against
# pg_basebackup (client zstd 3) and pgBackRest (zst 3, process-max 1 and 2), one run.
#   bench/run-backup-bench.sh [--major 15] [--scale 50]
# pgBackRest is Debian's package (2.45 on Debian 12: PostgreSQL up to 15).
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
command -v pgbench >/dev/null || need+=(postgresql-client)
command -v pg_basebackup >/dev/null || need+=(postgresql-client)
command -v pgbackrest >/dev/null || need+=(pgbackrest)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq && apt-get install -y -qq "${need[@]}"
fi
if [ "$(id -u)" = "0" ] && ! id pgvault >/dev/null 2>&1; then
  useradd --system --no-create-home --shell /usr/sbin/nologin pgvault
fi
mvn -B -q -Pbench clean package -DskipTests
java -Dpgvault.test.pgDists="$PWD/core/target/pg-dists" -cp bench/target/pgvault-bench.jar io.pgvault.bench.BackupBench \
  --server-jar server/target/pgvault-server.jar "$@"
