#!/usr/bin/env bash
# restore_command cost per segment: pgvault wal-fetch (JVM per call, and with the prefetch spool),
# curl against the server, pgBackRest archive-get (plain and async), on the same WAL. Not a test.
#   bench/run-restore-bench.sh [--major 15] [--scale 20] [--seconds 30] [--storage local|s3] [--s3-rtt-ms 0]
# --storage s3: both archives in one bucket of S3Proxy over HTTPS (in the benchmark JVM); --s3-rtt-ms adds a round trip.
# pgBackRest is Debian's package (2.45 on Debian 12, which supports PostgreSQL up to 15).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/prepare.sh
prepare_bench pgbench:postgresql-client pgbackrest:pgbackrest curl:curl
run_bench RestoreBench --launcher bin/pgvault "$@"
