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
        List<String> command = new ArrayList<>(List.of("java", "-Xmx512m"));
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
        String[] fields = Files.readString(Path.of("/proc", Long.toString(pid), "stat")).replaceAll("^.*\\) ", "").split(" ");
        return (Long.parseLong(fields[11]) + Long.parseLong(fields[12])) / 100.0;
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

    /**
     * Writes pgbench WAL on a cluster whose archive_command copies into {@code corpus}
     * ({@code pgbench -i} at {@code scale}, then {@code seconds} of load, then a segment
     * switch) and returns the archived segments in order.
     */
    static List<Path> pgbenchWalCorpus(io.pgvault.testkit.PgCluster pg, Path corpus, int scale, int seconds) throws Exception {
        String conn = "-h 127.0.0.1 -p " + pg.port() + " -U postgres";
        shell("pgbench -i -q -s " + scale + " " + conn + " postgres");
        shell("pgbench -n -T " + seconds + " -c 2 -j 2 " + conn + " postgres");
        pg.queryValue("SELECT pg_switch_wal()");
        Thread.sleep(3000);
        try (java.util.stream.Stream<Path> files = Files.list(corpus)) {
            return files.filter(p -> p.getFileName().toString().matches("[0-9A-F]{24}")).sorted().toList();
        }
    }
}
