#!/usr/bin/env bash
# archive_command cost per segment: pgvault (curl PUT) against pgBackRest archive-push
# and cp + sync, on the same pgbench WAL, in one run. Prints figures and ratios. Not a test.
#   bench/run-archive-bench.sh [--major 15] [--scale 20] [--seconds 30]
# pgBackRest is Debian's package (2.45 on Debian 12, which supports PostgreSQL up to 15).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/prepare.sh
prepare_bench pgbench:postgresql-client pgbackrest:pgbackrest curl:curl
run_bench ArchiveBench "$@"
