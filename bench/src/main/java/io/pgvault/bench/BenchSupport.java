package io.pgvault.bench;

import io.pgvault.testkit.OsUser;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

/** What the benchmarks share: arguments, running commands, measuring CPU and sizes. */
final class BenchSupport {

    static final double MIB = 1024.0 * 1024.0;

    private BenchSupport() {
    }

    static int intArg(String[] args, String name, int fallback) {
        String value = stringArg(args, name, null);
        return value == null ? fallback : Integer.parseInt(value);
    }

    static String stringArg(String[] args, String name, String fallback) {
        for (int i = 0; i + 1 < args.length; i++) {
            if (args[i].equals(name)) {
                return args[i + 1];
            }
        }
        return fallback;
    }

    /**
     * Starts the pgvault server jar on its own local repository and H2 catalog under
     * {@code dir}. {@code PGVAULT_BENCH_SERVER_OPTS} adds JVM options (e.g. a JFR recording).
     */
    static Process startServer(Path serverJar, Path dir, int port, String compression) throws IOException {
        return startServer(serverJar, dir, port, compression, List.of());
    }

    /** @param properties extra {@code -Dname=value} settings for the server, which win over the defaults here */
    static Process startServer(Path serverJar, Path dir, int port, String compression, List<String> properties) throws IOException {
        return startServer(serverJar, dir, port, compression, properties, "512m");
    }

    /** @param maxHeap the server's {@code -Xmx}, e.g. {@code 256m} to see how it holds up in a small heap */
    static Process startServer(Path serverJar, Path dir, int port, String compression, List<String> properties, String maxHeap)
            throws IOException {
        List<String> command = new ArrayList<>(List.of("java", "-Xmx" + maxHeap));
        // As bin/pgvault-server starts it: AES-GCM compiled early, for the encrypted repositories.
        command.addAll(io.pgvault.core.crypto.CipherJit.JVM_OPTIONS);
        String extra = System.getenv("PGVAULT_BENCH_SERVER_OPTS");
        if (extra != null && !extra.isBlank()) {
            command.addAll(List.of(extra.trim().split("\\s+")));
        }
        command.addAll(List.of("-Dmicronaut.server.port=" + port, "-Dpgvault.data-dir=" + dir,
                "-Dpgvault.repository.url=" + dir.resolve("repo").toUri(), "-Dpgvault.repository.compression=" + compression,
                "-Dpgvault.catalog.url=jdbc:h2:file:" + dir.resolve("catalog") + ";MODE=PostgreSQL;DATABASE_TO_LOWER=TRUE"));
        properties.forEach(p -> command.add("-D" + p));
        command.addAll(List.of("-jar", serverJar.toString()));
        return new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(dir.resolve("server.log").toFile()).start();
    }

    /** A new repository key in {@code keyFile}, and the server setting that makes it encrypt its repository with it. */
    static String encryptionProperty(Path keyFile) throws IOException {
        io.pgvault.core.crypto.RepositoryEncryption.generateKey(keyFile);
        return "pgvault.repository.encryption.key-file=" + keyFile;
    }

    /** Runs a shell command, output discarded; fails on a non-zero exit. */
    static void shell(String command) throws Exception {
        Process p = new ProcessBuilder("bash", "-c", command).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        if (p.waitFor() != 0) {
            throw new IllegalStateException("failed (" + p.exitValue() + "): " + command);
        }
    }

    /** Runs a shell command as the PostgreSQL OS user, as the archiver or a DBA would. */
    static void asPgUser(String command) throws Exception {
        Process p = new ProcessBuilder(OsUser.wrap(List.of("bash", "-c", command))).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.INHERIT).start();
        if (p.waitFor() != 0) {
            throw new IllegalStateException("failed (" + p.exitValue() + "): " + command);
        }
    }

    /** User plus system CPU seconds of a process so far, from /proc (Linux). */
    static double cpuSeconds(long pid) throws IOException {
        return cpuSeconds(Path.of("/proc", Long.toString(pid)));
    }

    /** CPU seconds a JVM's JIT compiler threads (C1 and C2) have used so far, from /proc (Linux). */
    static double compilerCpuSeconds(long pid) throws IOException {
        double seconds = 0;
        try (java.util.stream.Stream<Path> tasks = Files.list(Path.of("/proc", Long.toString(pid), "task"))) {
            for (Path task : tasks.toList()) {
                try {
                    if (Files.readString(task.resolve("comm")).contains("Compiler")) {
                        seconds += cpuSeconds(task);
                    }
                } catch (IOException gone) {
                    // the thread ended meanwhile
                }
            }
        }
        return seconds;
    }

    private static double cpuSeconds(Path procEntry) throws IOException {
        String[] fields = statFields(procEntry);
        return (Long.parseLong(fields[11]) + Long.parseLong(fields[12])) / 100.0;
    }

    /**
     * User plus system CPU seconds of a process's children that have ended and been waited for
     * (cutime and cstime): for a postmaster, its backends and walsenders that have exited.
     */
    static double endedChildrenCpuSeconds(long pid) throws IOException {
        String[] fields = statFields(Path.of("/proc", Long.toString(pid)));
        return (Long.parseLong(fields[13]) + Long.parseLong(fields[14])) / 100.0;
    }

    /** The fields of /proc/PID/stat after the command name, from the state on (field 3 is index 0). */
    private static String[] statFields(Path procEntry) throws IOException {
        return Files.readString(procEntry.resolve("stat")).replaceAll("^.*\\) ", "").split(" ");
    }

    /** The value below which {@code p} percent of {@code values} lie (nearest rank); NaN when there are none. */
    static double percentile(List<Double> values, double p) {
        if (values.isEmpty()) {
            return Double.NaN;
        }
        double[] sorted = values.stream().mapToDouble(Double::doubleValue).toArray();
        java.util.Arrays.sort(sorted);
        int index = (int) Math.ceil(p / 100.0 * sorted.length) - 1;
        return sorted[Math.max(0, Math.min(sorted.length - 1, index))];
    }

    /**
     * A pgBackRest stanza on {@code pg} whose repository, logs, locks and spool are all under
     * {@code dir}, zst-compressed at {@code level}; {@code options} are more {@code [global]}
     * lines (e.g. {@code archive-async=y}). Returns the configuration file.
     */
    static Path pgbackrestStanza(Path dir, io.pgvault.testkit.PgCluster pg, String stanza, int level, String... options) throws Exception {
        Path conf = dir.resolve("pgbackrest.conf");
        Files.writeString(conf, "[global]\nrepo1-path=" + dir.resolve("repo") + "\nlog-path=" + dir + "\nlock-path=" + dir
                + "\nspool-path=" + dir.resolve("spool") + "\ncompress-type=zst\ncompress-level=" + level + "\nlog-level-console=warn\n"
                + String.join("\n", options) + "\n\n[" + stanza + "]\npg1-path=" + pg.dataDirectory() + "\npg1-port=" + pg.port()
                + "\npg1-socket-path=" + pg.directory().resolve("sock") + "\npg1-user=postgres\n");
        OsUser.own(dir);
        asPgUser("pgbackrest --config=" + conf + " --stanza=" + stanza + " stanza-create");
        return conf;
    }

    /**
     * A copy of the pgBackRest configuration {@code conf} whose pg1-path is {@code data}, a
     * stand-in data directory holding {@code pg}'s {@code pg_control} and {@code PG_VERSION}:
     * pgBackRest reads those, and insists that the WAL it pushes asynchronously lies under its
     * pg1-path, and the live cluster's pg_wal is not ours to fill.
     */
    static Path pgbackrestStandIn(Path conf, io.pgvault.testkit.PgCluster pg, Path data) throws IOException {
        Files.createDirectories(data.resolve("global"));
        Files.copy(pg.dataDirectory().resolve("global/pg_control"), data.resolve("global/pg_control"));
        Files.copy(pg.dataDirectory().resolve("PG_VERSION"), data.resolve("PG_VERSION"));
        OsUser.own(data);
        Path standIn = conf.resolveSibling("pgbackrest-stand-in.conf");
        Files.writeString(standIn, Files.readString(conf).replace("pg1-path=" + pg.dataDirectory() + "\n", "pg1-path=" + data + "\n"));
        OsUser.own(standIn);
        return standIn;
    }

    static long totalSize(List<Path> files) throws IOException {
        long total = 0;
        for (Path f : files) {
            total += Files.size(f);
        }
        return total;
    }

    static long directorySize(Path dir) throws IOException {
        if (!Files.exists(dir)) {
            return 0;
        }
        try (Stream<Path> files = Files.walk(dir)) {
            return files.filter(Files::isRegularFile).mapToLong(p -> p.toFile().length()).sum();
        }
    }

    /**
     * Registers a cluster with a pgvault server that may still be starting: retries the
     * connection for a minute, then insists on 201.
     */
    static void registerCluster(String url, String json) throws Exception {
        java.net.http.HttpClient http = java.net.http.HttpClient.newHttpClient();
        long deadline = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(60);
        while (true) {
            try {
                java.net.http.HttpResponse<String> r = http.send(java.net.http.HttpRequest.newBuilder(java.net.URI.create(url + "/v1/clusters"))
                        .header("Content-Type", "application/json").POST(java.net.http.HttpRequest.BodyPublishers.ofString(json)).build(),
                        java.net.http.HttpResponse.BodyHandlers.ofString());
                if (r.statusCode() != 201) {
                    throw new IllegalStateException("cannot register the bench cluster: " + r.statusCode() + " " + r.body());
                }
                return;
            } catch (IOException notYet) {
                if (System.nanoTime() > deadline) {
                    throw new IllegalStateException("the pgvault server at " + url + " did not start; see its server.log", notYet);
                }
                Thread.sleep(200);
            }
        }
    }

    /** Waits up to 90 s for the server at {@code url} to answer {@code /health} with 200. */
    static void awaitHealthy(String url) throws Exception {
        java.net.http.HttpClient http = java.net.http.HttpClient.newHttpClient();
        long deadline = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(90);
        while (System.nanoTime() < deadline) {
            try {
                if (http.send(java.net.http.HttpRequest.newBuilder(java.net.URI.create(url + "/health")).build(),
                        java.net.http.HttpResponse.BodyHandlers.discarding()).statusCode() == 200) {
                    return;
                }
            } catch (IOException notYet) {
                // starting
            }
            Thread.sleep(300);
        }
        throw new IllegalStateException("the server at " + url + " did not start");
    }

    /** SIGTERM, so the server shuts down as a service manager stops it (leases released); SIGKILL if it is not gone in 30 s. */
    static void stopServer(Process server) throws InterruptedException {
        server.destroy();
        if (!server.waitFor(30, java.util.concurrent.TimeUnit.SECONDS)) {
            server.destroyForcibly().waitFor();
        }
    }

    /** A running PostgreSQL whose archive_command copies each finished segment into {@code corpus}: where the WAL corpora come from. */
    static io.pgvault.testkit.PgCluster copyArchivingPrimary(int major, Path corpus) {
        return io.pgvault.testkit.PgCluster.builder(major)
                .setting("archive_mode", "on")
                .setting("archive_command", "cp %p " + corpus + "/%f")
                .setting("max_wal_size", "1GB")
                .start();
    }

    /**
     * Writes pgbench WAL on a cluster whose archive_command copies into {@code corpus}
     * ({@code pgbench -i} at {@code scale}, then {@code seconds} of load, then a segment
     * switch) and returns the archived segments in order.
     */
    static List<Path> pgbenchWalCorpus(io.pgvault.testkit.PgCluster pg, Path corpus, int scale, int seconds) throws Exception {
        return pgbenchWalCorpus(pg, corpus, scale, seconds, 0);
    }

    /**
     * As above, but repeats the {@code seconds} of load until at least {@code segments}
     * segments are archived, and returns the first {@code segments} of them (all when 0):
     * a corpus of the same size from run to run.
     */
    static List<Path> pgbenchWalCorpus(io.pgvault.testkit.PgCluster pg, Path corpus, int scale, int seconds, int segments) throws Exception {
        String conn = "-h 127.0.0.1 -p " + pg.port() + " -U postgres";
        shell("pgbench -i -q -s " + scale + " " + conn + " postgres");
        List<Path> archived;
        do {
            shell("pgbench -n -T " + seconds + " -c 2 -j 2 " + conn + " postgres");
            pg.queryValue("SELECT pg_switch_wal()");
            Thread.sleep(3000);
            try (java.util.stream.Stream<Path> files = Files.list(corpus)) {
                archived = files.filter(p -> p.getFileName().toString().matches("[0-9A-F]{24}")).sorted().toList();
            }
        } while (archived.size() < segments);
        return segments > 0 ? archived.subList(0, segments) : archived;
    }

    /** Runs a command; returns wall seconds and the CPU seconds of its process tree (bash's times). */
    static double[] timed(String command) throws Exception {
        long start = System.nanoTime();
        Process p = new ProcessBuilder("bash", "-c", command + " >/dev/null && times").redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        if (p.waitFor() != 0) {
            throw new IllegalStateException("failed: " + command + "\n" + out);
        }
        double wall = (System.nanoTime() - start) / 1e9;
        String[] lines = out.strip().split("\n");
        return new double[] {wall, parseTimes(lines[lines.length - 1])};
    }

    /** bash 'times' second line: children's user and system time, e.g. "0m1.234s 0m0.456s". */
    static double parseTimes(String line) {
        double total = 0;
        for (String part : line.trim().split("\\s+")) {
            String[] ms = part.replace("s", "").split("m");
            total += Double.parseDouble(ms[0]) * 60 + Double.parseDouble(ms[1]);
        }
        return total;
    }

    /** Takes a backup of cluster {@code bench} of {@code type} (full or incremental) through the server's API; returns its final state. */
    static com.fasterxml.jackson.databind.JsonNode backup(java.net.http.HttpClient http, String url, String type) throws Exception {
        com.fasterxml.jackson.databind.ObjectMapper json = new com.fasterxml.jackson.databind.ObjectMapper();
        com.fasterxml.jackson.databind.JsonNode started = json.readTree(http.send(java.net.http.HttpRequest.newBuilder(
                java.net.URI.create(url + "/v1/clusters/bench/backups?type=" + type)).POST(java.net.http.HttpRequest.BodyPublishers.noBody())
                .build(), java.net.http.HttpResponse.BodyHandlers.ofString()).body());
        String id = started.path("id").asText();
        com.fasterxml.jackson.databind.JsonNode b;
        do {
            // Answered when the backup ends: no polling load on the server while it works.
            b = json.readTree(http.send(java.net.http.HttpRequest.newBuilder(java.net.URI.create(url + "/v1/clusters/bench/backups/" + id
                    + "?wait=300")).build(), java.net.http.HttpResponse.BodyHandlers.ofString()).body());
        } while (b.path("status").asText().equals("running"));
        return b;
    }
}
