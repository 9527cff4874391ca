#!/usr/bin/env bash
# Codec benchmark on real WAL: pgvault's codecs against the zstd and lz4 command-line
# tools, same files, same run. Prints figures and ratios. Not a test.
#   bench/run-codec-bench.sh [--major 17] [--scale 20] [--seconds 40] [--max-segments 40]
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/prepare.sh
prepare_bench pgbench:postgresql-client zstd:zstd lz4:lz4
run_bench CodecBench "$@"
