#!/usr/bin/env bash
# Archive throughput with 1, 4 and 16 concurrent pushers: pgvault (curl PUT into a server with
# a 256 MiB heap) against pgBackRest's async archive-push (process-max 2), on the same pgbench
# WAL; then 16 parallel GETs of 64 MiB segments from that small heap against as many
# pgbackrest archive-get. Prints figures and ratios. Not a test.
#   bench/run-archive-load-bench.sh [--major 15] [--segments 64] [--pushers 1,4,16] [--heap 256m]
#       [--pgbackrest-levels 3,1] [--restore-segments 16] [--restore-rounds 3] [--no-restore]
# pgBackRest is Debian's package (2.45 on Debian 12, which supports PostgreSQL up to 15).
# Perl makes the callers' wrapper a child subreaper, so pgBackRest's detached async process
# counts in the CPU figures.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/prepare.sh
prepare_bench pgbench:postgresql-client pgbackrest:pgbackrest curl:curl perl:perl
run_bench ArchiveLoadBench "$@"
