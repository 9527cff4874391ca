# Sourced by the run-*-bench.sh scripts: installs what they compare against (Debian
# packages, given as commands), creates the unprivileged PostgreSQL user when run as root,
# and builds the benchmark and server jars. Usage: prepare_bench "tool:package" ...
prepare_bench() {
  prepare_tools "$@"
  mvn -B -q -Pbench clean package -DskipTests
}

# The tools and the PostgreSQL user alone, without the build. Usage: prepare_tools "tool:package" ...
prepare_tools() {
  local need=() pair
  for pair in "$@"; do
    command -v "${pair%%:*}" >/dev/null || need+=("${pair#*:}")
  done
  if [ ${#need[@]} -gt 0 ]; then
    apt-get update -qq && apt-get install -y -qq "${need[@]}"
  fi
  if [ "$(id -u)" = "0" ] && ! id pgvault >/dev/null 2>&1; then
    useradd --system --no-create-home --shell /usr/sbin/nologin pgvault
  fi
}

# Runs one benchmark class with the PostgreSQL binaries the tests unpacked.
run_bench() {
  local main="$1"
  shift
  java -Dpgvault.test.pgDists="$PWD/core/target/pg-dists" -cp bench/target/pgvault-bench.jar "io.pgvault.bench.$main" \
    --server-jar server/target/pgvault-server.jar "$@"
}
