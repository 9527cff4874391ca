#!/usr/bin/env bash
# Where PostgreSQL waits on pgvault and on pgBackRest (issue #18), in one run: archive_command
# (ArchiveBench, as run-archive-bench.sh), restore_command (RestoreBench, as run-restore-bench.sh),
# the restore step by target kind and the whole PITR (PitrBench --targets, as run-pitr-bench.sh),
# each printing its own tables, then one table of the figures issue #18 names, with their goals.
#   bench/run-waits-bench.sh [--major 15] [--repeat 3]
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/prepare.sh
prepare_bench pgbench:postgresql-client pgbackrest:pgbackrest curl:curl
summary=$(mktemp)
trap 'rm -f "$summary"' EXIT
export PGVAULT_BENCH_SUMMARY="$summary"
run_bench ArchiveBench "$@"
run_bench RestoreBench --launcher bin/pgvault "$@"
run_bench PitrBench --launcher bin/pgvault --targets "$@"
run_bench WaitsTable "$summary"
