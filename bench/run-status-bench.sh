#!/usr/bin/env bash
# What the dashboard and a Prometheus scrape cost on a large catalog (100000 segments and 100
# backups of one cluster by default). Not a test.
#   bench/run-status-bench.sh [--segments 100000] [--backups 100] [--repeat 50]
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/prepare.sh
prepare_bench
run_bench StatusBench "$@"
