package io.pgvault.testkit;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * A real PostgreSQL server for tests: its own data directory, port and socket directory,
 * run by {@code initdb}/{@code pg_ctl} as an unprivileged user. It can start, stop,
 * crash ({@code kill -9} of the postmaster), promote and run SQL.
 *
 * <p>Every instance is closed by {@link #close()}, by a JVM shutdown hook, and, if the JVM
 * was killed outright, by the next test JVM, which finds the orphan's directory and stops
 * its postmaster by PID.
 */
public final class PgCluster implements AutoCloseable {

    private static final Path BASE = Path.of(System.getProperty("java.io.tmpdir"), "pgvault-test-clusters");
    private static final Set<PgCluster> LIVE = ConcurrentHashMap.newKeySet();

    static {
        reapOrphans();
        Runtime.getRuntime().addShutdownHook(new Thread(() -> LIVE.forEach(PgCluster::closeQuietly), "pgvault-test-pg-reaper"));
    }

    private final PgDistribution dist;
    private final Path dir;
    private final Path data;
    private final int port;
    private boolean running;

    private PgCluster(PgDistribution dist, Path dir, int port) {
        this.dist = dist;
        this.dir = dir;
        this.data = dir.resolve("data");
        this.port = port;
    }

    public static Builder builder(int major) {
        return new Builder(major);
    }

    /** How to create a cluster. {@link #start()} runs initdb and starts the server. */
    public static final class Builder {
        private final int major;
        private final Map<String, String> settings = new LinkedHashMap<>();
        private int walSegmentSizeMb = 16;

        private Builder(int major) {
            this.major = major;
        }

        /** A {@code postgresql.conf} setting; the value is quoted for you. */
        public Builder setting(String name, String value) {
            settings.put(name, value);
            return this;
        }

        public Builder walSegmentSizeMb(int megabytes) {
            this.walSegmentSizeMb = megabytes;
            return this;
        }

        /**
         * A cluster on a data directory that {@code fill} writes (a restored backup), with
         * this fixture's port and socket directory and the builder's settings appended.
         * Not started.
         */
        public PgCluster adopt(DataDirectoryFiller fill) {
            PgCluster cluster = newInstance();
            Path dir = cluster.dir;
            try {
                fill.fill(cluster.data);
                Files.deleteIfExists(cluster.data.resolve("postmaster.pid"));
                Map<String, String> conf = new LinkedHashMap<>();
                conf.put("port", Integer.toString(cluster.port));
                conf.put("unix_socket_directories", dir.resolve("sock").toString());
                conf.putAll(settings);
                cluster.appendConf(conf);
                OsUser.own(dir);
            } catch (IOException e) {
                cluster.close();
                throw new UncheckedIOException(e);
            } catch (RuntimeException e) {
                cluster.close();
                throw e;
            }
            return cluster;
        }

        /** A registered instance directory with its socket directory and owner mark; no data directory yet. */
        private PgCluster newInstance() {
            PgCluster cluster = new PgCluster(PgDistribution.of(major), BASE.resolve(major + "-" + UUID.randomUUID()), Fixtures.freePort());
            LIVE.add(cluster);
            try {
                Files.createDirectories(cluster.dir.resolve("sock"));
                Files.setPosixFilePermissions(BASE, PgDistribution.permissions(0755));
                Files.writeString(cluster.dir.resolve("owner.pid"), Long.toString(ProcessHandle.current().pid()));
                return cluster;
            } catch (IOException e) {
                cluster.close();
                throw new UncheckedIOException(e);
            }
        }

        /** Runs initdb only; the server is not started. */
        public PgCluster init() {
            PgCluster cluster = newInstance();
            PgDistribution dist = cluster.dist;
            Path dir = cluster.dir;
            try {
                OsUser.own(dir);
                cluster.run(Duration.ofMinutes(2), dist.bin("initdb").toString(), "-D", cluster.data.toString(), "-U", "postgres",
                        "-A", "trust", "--no-sync", "--no-instructions", "--locale=C", "-E", "UTF8",
                        "--wal-segsize=" + walSegmentSizeMb);
                Map<String, String> conf = new LinkedHashMap<>();
                conf.put("port", Integer.toString(cluster.port));
                conf.put("listen_addresses", "127.0.0.1");
                conf.put("unix_socket_directories", dir.resolve("sock").toString());
                conf.put("max_connections", "30");
                conf.put("shared_buffers", "32MB");
                conf.put("max_wal_senders", "10");
                conf.put("wal_level", "replica");
                conf.putAll(settings);
                cluster.appendConf(conf);
            } catch (RuntimeException e) {
                cluster.close();
                throw e;
            }
            return cluster;
        }

        public PgCluster start() {
            PgCluster cluster = init();
            try {
                cluster.start();
            } catch (RuntimeException e) {
                cluster.close();
                throw e;
            }
            return cluster;
        }
    }

    /** Writes a data directory for {@link Builder#adopt}. */
    @FunctionalInterface
    public interface DataDirectoryFiller {
        void fill(Path dataDirectory) throws IOException;
    }

    public int major() {
        return dist.major();
    }

    /** Waits until the server has left recovery (after a restore), or fails with its log. */
    public void awaitRecoveryEnd(Duration timeout) {
        awaitValue("SELECT pg_is_in_recovery()", "f", timeout);
    }

    /** Switches WAL until archive_command has shipped the segment written now (at most 30 s; the test's own checks say if it did not). */
    public void awaitCurrentSegmentArchived() throws InterruptedException {
        String last = queryValue("SELECT last_archived_wal FROM pg_stat_archiver");
        String current = queryValue("SELECT pg_walfile_name(pg_current_wal_lsn())");
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while ((last == null || last.compareTo(current) < 0) && System.nanoTime() < deadline) {
            queryValue("SELECT pg_switch_wal()");
            Thread.sleep(300);
            last = queryValue("SELECT last_archived_wal FROM pg_stat_archiver");
        }
    }

    /** Waits until {@code sql} answers {@code expected} (a standby catching up, say), or fails with what it answered and the log. */
    public void awaitValue(String sql, String expected, Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        String last = null;
        while (System.nanoTime() < deadline) {
            try {
                last = queryValue(sql);
                if (expected.equals(last)) {
                    return;
                }
            } catch (IllegalStateException notYet) {
                // still starting
            }
            try {
                Thread.sleep(200);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException(e);
            }
        }
        throw new AssertionError("expected " + expected + " but " + this + " had " + last + "\n" + tail(serverLog()));
    }

    public int port() {
        return port;
    }

    public Path dataDirectory() {
        return data;
    }

    public Path directory() {
        return dir;
    }

    public boolean isRunning() {
        return running;
    }

    public String jdbcUrl(String database) {
        return "jdbc:postgresql://127.0.0.1:" + port + "/" + database + "?user=postgres";
    }

    public Connection connect() throws SQLException {
        return connect("postgres");
    }

    public Connection connect(String database) throws SQLException {
        return DriverManager.getConnection(jdbcUrl(database));
    }

    /** Adds settings to {@code postgresql.conf}; they apply at the next start or reload. */
    public void appendConf(Map<String, String> settings) {
        StringBuilder sb = new StringBuilder("\n# pgvault test fixture\n");
        // Quoted as ALTER SYSTEM does: the file's parser reads a backslash as an escape too.
        settings.forEach((k, v) -> sb.append(k).append(" = '").append(v.replace("\\", "\\\\").replace("'", "''")).append("'\n"));
        try {
            Files.writeString(data.resolve("postgresql.conf"), sb.toString(), StandardCharsets.UTF_8, java.nio.file.StandardOpenOption.APPEND);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * Serves TLS with {@code server}'s certificate and key, trusting client certificates
     * issued by {@code clientCa}; applies at the next start or reload.
     */
    public void serveTls(TestCertificates.Issued server, Path clientCa) {
        try {
            Files.copy(server.certificate(), data.resolve("server.crt"), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            Files.copy(server.key(), data.resolve("server.key"), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            Files.copy(clientCa, data.resolve("client-ca.crt"), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            Files.setPosixFilePermissions(data.resolve("server.key"), PgDistribution.permissions(0600));
            OsUser.own(data);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        appendConf(Map.of("ssl", "on", "ssl_cert_file", "server.crt", "ssl_key_file", "server.key", "ssl_ca_file", "client-ca.crt"));
    }

    /** Replaces {@code pg_hba.conf} with these lines; applies at the next start or reload. */
    public void writeHba(String... lines) {
        try {
            Files.writeString(data.resolve("pg_hba.conf"), String.join("\n", lines) + "\n");
            OsUser.own(data.resolve("pg_hba.conf"));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Writes an empty signal file (standby.signal, recovery.signal) owned by the server user. */
    public void touch(String fileName) {
        try {
            Path file = data.resolve(fileName);
            Files.writeString(file, "");
            OsUser.own(file);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * The value of a setting as PostgreSQL reads it from this data directory's configuration
     * files, without starting a server: what {@code postgres -C NAME} prints, run as the
     * server's OS user, without its line end.
     */
    public String configValue(String name) {
        List<String> cmd = OsUser.wrap(List.of(dist.bin("postgres").toString(), "-C", name, "-D", data.toString()));
        try {
            Path out = Files.createTempFile("pgvault-postgres-C-", ".out");
            Path err = Files.createTempFile("pgvault-postgres-C-", ".err");
            try {
                Process process = new ProcessBuilder(cmd).redirectOutput(out.toFile()).redirectError(err.toFile()).start();
                if (!process.waitFor(60, TimeUnit.SECONDS)) {
                    process.destroyForcibly();
                    throw new IllegalStateException(String.join(" ", cmd) + " did not finish in 60 s");
                }
                if (process.exitValue() != 0) {
                    throw new IllegalStateException(String.join(" ", cmd) + " failed with exit code " + process.exitValue() + ":\n"
                            + Files.readString(err));
                }
                String value = new String(Files.readAllBytes(out), StandardCharsets.UTF_8);
                return value.endsWith("\n") ? value.substring(0, value.length() - 1) : value;
            } finally {
                Files.deleteIfExists(out);
                Files.deleteIfExists(err);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        }
    }

    public void start() {
        run(Duration.ofMinutes(2), dist.bin("pg_ctl").toString(), "-D", data.toString(), "-l", dir.resolve("server.log").toString(),
                "-w", "-t", "90", "start");
        running = true;
    }

    public void stop() {
        run(Duration.ofMinutes(2), dist.bin("pg_ctl").toString(), "-D", data.toString(), "-m", "fast", "-w", "-t", "90", "stop");
        running = false;
    }

    /** Kills the postmaster with SIGKILL, as a power cut or OOM kill would, and waits for its children to go. */
    public void crash() {
        long pid = postmasterPid();
        ProcessHandle.of(pid).ifPresent(p -> {
            List<ProcessHandle> children = p.descendants().toList();
            p.destroyForcibly();
            awaitExit(p);
            children.forEach(c -> {
                if (!c.onExit().completeOnTimeout(c, 10, TimeUnit.SECONDS).isDone() || c.isAlive()) {
                    c.destroyForcibly();
                }
                awaitExit(c);
            });
        });
        running = false;
    }

    public void promote() {
        run(Duration.ofMinutes(2), dist.bin("pg_ctl").toString(), "-D", data.toString(), "-w", "-t", "90", "promote");
    }

    /** Runs statements in autocommit mode. */
    public void execute(String... sql) {
        try (Connection c = connect(); Statement s = c.createStatement()) {
            for (String statement : sql) {
                s.execute(statement);
            }
        } catch (SQLException e) {
            throw new IllegalStateException("SQL failed on PostgreSQL " + major() + ": " + e.getMessage(), e);
        }
    }

    /** The first column of the first row of a query, as text. */
    public String queryValue(String sql) {
        return queryValue("postgres", sql);
    }

    public String queryValue(String database, String sql) {
        try (Connection c = connect(database); Statement s = c.createStatement(); ResultSet rs = s.executeQuery(sql)) {
            return rs.next() ? rs.getString(1) : null;
        } catch (SQLException e) {
            throw new IllegalStateException("query failed on PostgreSQL " + major() + ": " + e.getMessage(), e);
        }
    }

    public String serverLog() {
        try {
            return Files.exists(dir.resolve("server.log")) ? Files.readString(dir.resolve("server.log")) : "";
        } catch (IOException e) {
            return "(cannot read server.log: " + e + ")";
        }
    }

    @Override
    public void close() {
        try {
            if (Files.exists(data.resolve("postmaster.pid"))) {
                try {
                    run(Duration.ofSeconds(60), dist.bin("pg_ctl").toString(), "-D", data.toString(), "-m", "immediate", "-w", "stop");
                } catch (RuntimeException e) {
                    crash();
                }
            }
        } catch (RuntimeException ignored) {
            // fall through to deletion; reapOrphans catches what is left
        } finally {
            running = false;
            LIVE.remove(this);
            if (!Boolean.getBoolean("pgvault.test.keepClusters")) {
                Fixtures.deleteTree(dir);
            }
        }
    }

    private void closeQuietly() {
        try {
            close();
        } catch (RuntimeException ignored) {
            // shutting down anyway
        }
    }

    /** The running server's postmaster process id, from {@code postmaster.pid}. */
    public long postmasterPid() {
        try {
            return Long.parseLong(Files.readAllLines(data.resolve("postmaster.pid")).get(0).trim());
        } catch (IOException e) {
            throw new IllegalStateException("PostgreSQL " + major() + " in " + data + " is not running (no postmaster.pid)", e);
        }
    }

    private static void awaitExit(ProcessHandle p) {
        try {
            p.onExit().get(30, TimeUnit.SECONDS);
        } catch (Exception ignored) {
            // reported by the caller's next step if it matters
        }
    }

    private void run(Duration timeout, String... command) {
        List<String> cmd = OsUser.wrap(List.of(command));
        try {
            Path out = Files.createTempFile("pgvault-pgctl-", ".out");
            try {
                Process process = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(out.toFile()).start();
                if (!process.waitFor(timeout.toSeconds(), TimeUnit.SECONDS)) {
                    process.destroyForcibly();
                    throw new IllegalStateException(String.join(" ", command) + " did not finish in " + timeout);
                }
                if (process.exitValue() != 0) {
                    throw new IllegalStateException(String.join(" ", command) + " failed with exit code " + process.exitValue()
                            + ":\n" + Files.readString(out) + "\n--- server.log ---\n" + tail(serverLog()));
                }
            } finally {
                Files.deleteIfExists(out);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        }
    }

    private static String tail(String log) {
        return log.length() > 4000 ? log.substring(log.length() - 4000) : log;
    }

    /** Stops servers left behind by a test JVM that was killed, and removes their directories. */
    private static void reapOrphans() {
        if (!Files.isDirectory(BASE)) {
            return;
        }
        try (var dirs = Files.list(BASE)) {
            for (Path dir : dirs.toList()) {
                Path owner = dir.resolve("owner.pid");
                long ownerPid;
                try {
                    ownerPid = Long.parseLong(Files.readString(owner).trim());
                } catch (IOException | NumberFormatException e) {
                    continue;
                }
                if (ProcessHandle.of(ownerPid).map(ProcessHandle::isAlive).orElse(false)) {
                    continue;
                }
                Path pidFile = dir.resolve("data/postmaster.pid");
                if (Files.exists(pidFile)) {
                    try {
                        long pid = Long.parseLong(Files.readAllLines(pidFile).get(0).trim());
                        ProcessHandle.of(pid)
                                .filter(p -> p.info().command().map(c -> c.endsWith("postgres")).orElse(false))
                                .ifPresent(p -> {
                                    p.destroyForcibly();
                                    awaitExit(p);
                                });
                    } catch (IOException | RuntimeException ignored) {
                        // nothing we can stop
                    }
                }
                Fixtures.deleteTree(dir);
            }
        } catch (IOException ignored) {
            // nothing to reap
        }
    }

    @Override
    public String toString() {
        return "PostgreSQL " + major() + " on 127.0.0.1:" + port;
    }

    /** Lists files of pg_wal (readable by root and by the owner). */
    public List<Path> walFiles() {
        try (var files = Files.list(data.resolve("pg_wal"))) {
            return new ArrayList<>(files.filter(Files::isRegularFile).sorted().toList());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
