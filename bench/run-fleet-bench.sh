#!/usr/bin/env bash
# Fleet scale (issue #20): one pgvault server (-Xmx512m) with 200 registered clusters, every
# one archiving the same real pgbench segments under its own name at once; heap and RSS per
# idle and per active cluster, push p50/p99 against one cluster alone at the same throughput,
# the catalog's size (a real PostgreSQL); then two servers on the same catalog and repository
# sharing the load, and how the leases stand between them. Prints figures and the issue's
# goals. Not a test.
#   bench/run-fleet-bench.sh [--clusters 200] [--segments 13] [--pushers 16] [--load 0.6 | --rate N]
#       [--baseline-pushes 300] [--heap 512m] [--major 15] [--storage local|s3] [--no-two-servers]
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/prepare.sh
prepare_bench pgbench:postgresql-client
run_bench FleetBench "$@"
