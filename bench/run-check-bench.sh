#!/usr/bin/env bash
# The end-to-end archiving proof: pgvault check (restore point, forced WAL switch, the segment
# awaited) against pgbackrest check on one cluster archiving into both, in one run. Not a test.
#   bench/run-check-bench.sh [--major 15] [--repeat 7]
# pgBackRest is Debian's package (2.45 on Debian 12, which supports PostgreSQL up to 15).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/prepare.sh
prepare_bench pgbackrest:pgbackrest curl:curl
run_bench CheckBench --launcher bin/pgvault "$@"
