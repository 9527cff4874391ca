#!/usr/bin/env bash
# A whole recovery (restore + replay to the end of the archive): pgvault recover + wal-fetch
# against pgBackRest restore + archive-get (plain and async), same data, one run (each recovery
# --repeat times in turn, medians reported). Not a test.
#   bench/run-pitr-bench.sh [--major 15] [--scale 20] [--seconds 60] [--repeat 3] [--storage local|s3] [--s3-rtt-ms 0] [--targets|--only-targets]
# --targets: then the restore step alone for each target kind (latest, immediate, time, lsn, xid, name), pgvault recover
# against pgbackrest restore, medians of --repeat (--only-targets: only that, first).
# --storage s3: both repositories in one bucket of S3Proxy over HTTPS (in the benchmark JVM); --s3-rtt-ms adds a round trip.
# pgBackRest is Debian's package (2.45 on Debian 12, which supports PostgreSQL up to 15).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/prepare.sh
prepare_bench pgbench:postgresql-client pgbackrest:pgbackrest curl:curl
run_bench PitrBench --launcher bin/pgvault "$@"
