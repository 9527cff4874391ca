#!/usr/bin/env bash
# The fault soak (issue #22): three PostgreSQL clusters archive (one streams too) through one
# pgvault server into S3 (S3Proxy behind a relay) under pgbench, while a seeded injector kills
# the server, cuts and slows the bucket, makes the store answer 503, 500 or too late, and fills
# the spool disk, and restores run through the server. Then: nothing acknowledged is lost, PITR
# gives exactly the committed rows, nothing is left in the spool, the heap stayed in its budget.
# A test, but not one of the default run: it runs the Maven profile soak.
#   bench/run-fault-soak.sh [--duration 10m] [--seed N] [-- MAVEN_ARGS...]   (durations: 90s, 10m, 2h, 1h30m)
# Figures: cli/target/soak-summary.txt; events: cli/target/soak-events.log; server log:
# cli/target/soak-server.log. Needs root (a tmpfs for the spool; PostgreSQL runs as the
# unprivileged user pgvault), pgbench and curl; takes the duration plus about 5 minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
duration=10m
seed=
while [ $# -gt 0 ]; do
  case "$1" in
    --duration) duration="$2"; shift 2 ;;
    --seed) seed="$2"; shift 2 ;;
    --) shift; break ;;
    *) echo "usage: bench/run-fault-soak.sh [--duration 10m] [--seed N] [-- MAVEN_ARGS...]" >&2; exit 2 ;;
  esac
done
. bench/prepare.sh
prepare_tools pgbench:postgresql-client curl:curl
status=0
mvn -B -Psoak -pl cli -am clean verify -Dpgvault.soak.duration="$duration" ${seed:+-Dpgvault.soak.seed="$seed"} "$@" || status=$?
# The note, pass or fail (a failed run keeps its work directory; the events log names it).
[ -f cli/target/soak-summary.txt ] && cat cli/target/soak-summary.txt
exit "$status"
