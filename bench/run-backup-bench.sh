#!/usr/bin/env bash
# Full base backup of a pgbench cluster (scale 50, about 800 MiB): pgvault against
# pg_basebackup (client zstd 3) and pgBackRest (zst 3, process-max 1 and 2), one run.
#   bench/run-backup-bench.sh [--major 15] [--scale 50]
# pgBackRest is Debian's package (2.45 on Debian 12: PostgreSQL up to 15).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/prepare.sh
prepare_bench pgbench:postgresql-client pg_basebackup:postgresql-client pgbackrest:pgbackrest
run_bench BackupBench "$@"
