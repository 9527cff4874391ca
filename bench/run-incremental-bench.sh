#!/usr/bin/env bash
# Incremental against full backups of a pgbench cluster (scale 50, about 800 MiB; 5% of the
# accounts updated between backups): wall time, CPU and stored size of each, and the restore
# of a chain of four against the restore of the equivalent full backup, one run.
#   bench/run-incremental-bench.sh [--major 17] [--scale 50] [--percent 5] [--restores 5]
# PostgreSQL 17+: native incremental backups (summarize_wal is turned on for the run);
# 14-16: incremental backups by file references, against pgBackRest --type=incr in the same run.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/prepare.sh
prepare_bench pgbench:postgresql-client pgbackrest:pgbackrest
run_bench IncrementalBench "$@"
