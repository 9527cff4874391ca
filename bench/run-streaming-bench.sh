#!/usr/bin/env bash
# RPO of continuous archiving under pgbench: pgvault streaming vs pg_receivewal --synchronous
# vs archive_command alone, same load, one run. Not a test.
#   bench/run-streaming-bench.sh [--major 15] [--seconds 20] [--rate 200]
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/prepare.sh
prepare_bench pgbench:postgresql-client pg_receivewal:postgresql-client curl:curl
run_bench StreamingBench "$@"
