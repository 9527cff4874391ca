package io.pgvault.dist;

import io.pgvault.testkit.Fixtures;
import io.pgvault.testkit.PgCluster;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The built distribution, installed as a DBA installs it (README, "Install"): unpacked into a
 * temporary prefix, linked as {@code PREFIX/opt/pgvault} and into {@code PREFIX/usr/local/bin},
 * the server started by its launcher with a configuration file from a directory that is not
 * the installation, and then docs/quickstart.md end to end with nothing but the installed
 * copy: {@code cluster add}, archiving through {@code archive_command}, {@code backup --wait},
 * a point-in-time recovery whose {@code restore_command} is the installed launcher, giving
 * exactly the rows committed at the target, and a standby seeded from the repository.
 */
class DistributionIT {

    private static final String CHECKSUM = "SELECT count(*) || ':' || coalesce(md5(string_agg(id || '=' || v, ',' ORDER BY id)), '-') FROM marks";

    private final List<AutoCloseable> started = new ArrayList<>();
    private Path prefix;
    private Path installed;
    private Path linked;
    private Path pgvault;
    private Process server;

    @BeforeEach
    void install() throws Exception {
        Path tarball = Path.of(System.getProperty("pgvault.dist.tarball", "target/pgvault.tar.gz"));
        assertThat(tarball).as("the distribution: mvn package builds it").exists();
        prefix = Files.createTempDirectory("pgvault-dist-it-");
        // PostgreSQL's unprivileged user runs the installed launcher as restore_command.
        Files.setPosixFilePermissions(prefix, PosixFilePermissions.fromString("rwxr-xr-x"));
        run(prefix, List.of("tar", "-xzf", tarball.toAbsolutePath().toString(), "-C", prefix.toString()));
        try (Stream<Path> top = Files.list(prefix)) {
            installed = top.filter(p -> p.getFileName().toString().startsWith("pgvault-")).findFirst().orElseThrow();
        }
        // As the README installs it: the versioned directory linked as opt/pgvault, the command linked into usr/local/bin.
        linked = Files.createSymbolicLink(Files.createDirectories(prefix.resolve("opt")).resolve("pgvault"), installed);
        Path bin = Files.createDirectories(prefix.resolve("usr/local/bin"));
        // Relative, through the linked directory: the launcher resolves it as the kernel does.
        pgvault = Files.createSymbolicLink(bin.resolve("pgvault"), Path.of("../../../opt/pgvault/bin/pgvault"));
    }

    @AfterEach
    void uninstall() throws Exception {
        // The launcher's detached class data dump writes into lib/ until it is done.
        Path lock = installed.resolve("lib/.class-data.lock");
        long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(1);
        while (Files.exists(lock) && System.nanoTime() < deadline) {
            Thread.sleep(200);
        }
        if (server != null) {
            server.destroy();
            if (!server.waitFor(30, TimeUnit.SECONDS)) {
                server.destroyForcibly().waitFor(30, TimeUnit.SECONDS);
            }
        }
        for (AutoCloseable c : started) {
            c.close();
        }
        Fixtures.deleteTree(prefix);
    }

    @Test
    void theInstalledCopyArchivesBacksUpAndRecoversToAPointInTime() throws Exception {
        assertThat(Files.list(installed.resolve("lib")).map(p -> p.getFileName().toString()).toList())
                .contains("pgvault-cli.jar", "pgvault-server.jar", "pgvault-cli.classlist");
        assertThat(installed.resolve("etc/pgvault.yml")).exists();
        assertThat(installed.resolve("etc/prometheus/pgvault-alerts.yml")).exists();
        assertThat(Files.readString(installed.resolve("etc/pgvault-server.service")))
                .contains("ExecStart=/opt/pgvault/bin/pgvault-server --config /etc/pgvault/pgvault.yml");
        Result version = pgvault(prefix, "--version");
        assertThat(version.exit()).as(version.output()).isZero();
        assertThat(version.output()).contains("pgvault ");

        // The server, from its launcher, configured by a file; started elsewhere, it uses what the file says.
        int port = Fixtures.freePort();
        Path state = Files.createDirectories(prefix.resolve("var/lib/pgvault"));
        Path config = Files.writeString(prefix.resolve("pgvault.yml"), """
                micronaut:
                  server:
                    port: %d
                pgvault:
                  data-dir: %s
                  repository:
                    url: %s
                  catalog:
                    url: jdbc:h2:file:%s;MODE=PostgreSQL;DATABASE_TO_LOWER=TRUE;DEFAULT_NULL_ORDERING=HIGH
                """.formatted(port, state, state.resolve("repo").toUri(), state.resolve("catalog")));
        Path elsewhere = Files.createDirectories(prefix.resolve("somewhere-else"));
        Path log = prefix.resolve("server.log");
        server = new ProcessBuilder(installed.resolve("bin/pgvault-server").toString(), "--config", config.toString())
                .directory(elsewhere.toFile()).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        String url = "http://127.0.0.1:" + port;
        awaitHealthy(url, log);
        String report = Files.readAllLines(log).stream().filter(l -> l.contains("StartupReport")).findFirst().orElseThrow();
        // Dated, absolute: which file, repository, catalog and spool this server uses.
        assertThat(report).matches("^\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d.*").contains("file " + config)
                .contains("repository " + state.resolve("repo").toUri()).contains("files " + state.resolve("catalog") + ".*")
                .contains("data directory (spool, backups in flight) " + state);
        try (Stream<Path> nothing = Files.list(elsewhere)) {
            assertThat(nothing).as("a server configured by a file leaves its working directory alone").isEmpty();
        }

        int major = Fixtures.testMajors().get(0);
        PgCluster primary = PgCluster.builder(major)
                .setting("archive_mode", "on")
                .setting("archive_command", "curl -fsS -T %p " + url + "/v1/clusters/main/wal/%f")
                .setting("wal_keep_size", "128MB")
                .start();
        started.add(primary);
        String conninfo = "host=127.0.0.1 port=" + primary.port() + " user=postgres";
        Result add = pgvault(prefix, "cluster", "add", "main", "--conninfo", conninfo, "--server", url);
        assertThat(add.exit()).as(add.output()).isZero();
        assertThat(add.output()).contains("archive_command = 'curl -fsS -T %p " + url + "/v1/clusters/main/wal/%f'");

        primary.execute("CREATE TABLE marks (id int PRIMARY KEY, v text NOT NULL)",
                "INSERT INTO marks SELECT g, md5(g::text) FROM generate_series(1, 500) g");
        Result backup = pgvault(prefix, "backup", "main", "--wait", "--server", url);
        assertThat(backup.exit()).as(backup.output()).isZero();
        assertThat(backup.output()).contains("complete");
        // The proof: a forced WAL switch arrives, everything is OK (exit 0 for Nagios).
        Result check = pgvault(prefix, "check", "main", "--server", url);
        assertThat(check.exit()).as(check.output()).isZero();
        assertThat(check.output()).startsWith("pgvault check main: OK").contains("is in the archive");

        String target;
        String atTarget;
        try (Connection db = primary.connect(); Statement st = db.createStatement()) {
            st.execute("INSERT INTO marks SELECT g, md5(g::text) FROM generate_series(501, 800) g");
            atTarget = value(st, CHECKSUM);
            target = value(st, "SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') || '+00'");
            Thread.sleep(50);
            st.execute("INSERT INTO marks SELECT g, 'after the target' FROM generate_series(801, 900) g");
        }
        String latest = primary.queryValue(CHECKSUM);
        primary.queryValue("SELECT pg_switch_wal()");
        awaitArchived(primary);

        // Point in time, through the installed launcher, which restore_command then runs.
        try (PgCluster restored = PgCluster.builder(major).adopt(data -> {
            Result r = pgvault(prefix, "recover", "--server", url, "--cluster", "main", "--pgdata", data.toString(),
                    "--target-time", target, "--target-action", "promote");
            assertThat(r.exit()).as(r.output()).isZero();
            String auto = Files.readString(data.resolve("postgresql.auto.conf"));
            // The stable link, not the versioned directory: an upgrade that moves the link keeps restore_command working.
            assertThat(auto).contains("restore_command = '" + linked.resolve("bin/pgvault") + " wal-fetch --server " + url);
            assertThat(auto).doesNotContain("target/pgvault-cli.jar").doesNotContain(Path.of("").toAbsolutePath().getParent().toString());
        })) {
            restored.start();
            restored.awaitRecoveryEnd(Duration.ofMinutes(2));
            assertThat(restored.queryValue(CHECKSUM)).as(restored.serverLog()).isEqualTo(atTarget);
            assertThat(restored.serverLog()).doesNotContain("could not restore");
        }

        // A standby seeded from the repository follows the primary.
        PgCluster standby = PgCluster.builder(major).adopt(data -> {
            Result r = pgvault(prefix, "recover", "--server", url, "--cluster", "main", "--pgdata", data.toString(), "--standby",
                    "--primary-conninfo", conninfo);
            assertThat(r.exit()).as(r.output()).isZero();
        });
        started.add(standby);
        standby.start();
        primary.execute("INSERT INTO marks VALUES (1000, 'seen by the standby')");
        standby.awaitValue(CHECKSUM, primary.queryValue(CHECKSUM), Duration.ofSeconds(90));
        assertThat(latest).isNotEqualTo(atTarget);

        // The first runs made the class data archive for where the distribution is installed; the JVM maps it.
        // Its stamp (written last) names the jar as the launcher sees it, the jar's size and time, and the java it fits.
        Path stamp = installed.resolve("lib/pgvault-cli.jsa.for");
        long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(2);
        while (!Files.exists(stamp) && System.nanoTime() < deadline) {
            Thread.sleep(200);
        }
        assertThat(installed.resolve("lib/pgvault-cli.jsa")).exists();
        assertThat(Files.readString(stamp)).startsWith(linked.resolve("lib/pgvault-cli.jar") + " " + Files.size(installed.resolve("lib/pgvault-cli.jar")));
        // Through the launcher, with the archive required (-Xshare:on fails the JVM if it cannot be mapped).
        Result mapped = run(prefix, List.of(pgvault.toString(), "--version"), Map.of("PGVAULT_JAVA_OPTS", "-Xshare:on"));
        assertThat(mapped.exit()).as(mapped.output()).isZero();
    }

    record Result(int exit, String output) {
    }

    /** The installed command, through its symlink in PREFIX/usr/local/bin, with nothing of the build tree on the path. */
    private Result pgvault(Path workDir, String... args) throws IOException {
        List<String> command = new ArrayList<>(List.of(pgvault.toString()));
        command.addAll(List.of(args));
        return run(workDir, command);
    }

    private static Result run(Path workDir, List<String> command) throws IOException {
        return run(workDir, command, Map.of());
    }

    private static Result run(Path workDir, List<String> command, Map<String, String> env) throws IOException {
        // Output to a file, not a pipe: a hung command must not hang the build, and is stopped.
        Path output = Files.createTempFile("pgvault-dist-run-", ".log");
        ProcessBuilder pb = new ProcessBuilder(command).directory(workDir.toFile()).redirectErrorStream(true)
                .redirectOutput(output.toFile());
        pb.environment().put("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
        pb.environment().remove("PGVAULT_LAUNCHER");
        pb.environment().putAll(env);
        Process p = pb.start();
        try {
            if (!p.waitFor(5, TimeUnit.MINUTES)) {
                p.destroyForcibly().waitFor(30, TimeUnit.SECONDS);
                throw new AssertionError(String.join(" ", command) + " did not end within 5 minutes:\n" + Files.readString(output));
            }
            return new Result(p.exitValue(), Files.readString(output));
        } catch (InterruptedException e) {
            p.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new IOException(e);
        } finally {
            Files.deleteIfExists(output);
        }
    }

    private void awaitHealthy(String url, Path log) throws Exception {
        HttpClient http = HttpClient.newHttpClient();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(90);
        while (System.nanoTime() < deadline) {
            assertThat(server.isAlive()).as("the installed server exited:\n" + Files.readString(log)).isTrue();
            try {
                if (http.send(HttpRequest.newBuilder(URI.create(url + "/health")).build(), HttpResponse.BodyHandlers.discarding())
                        .statusCode() == 200) {
                    return;
                }
            } catch (IOException notYet) {
                // not listening yet
            }
            Thread.sleep(250);
        }
        throw new AssertionError("the installed server did not become healthy:\n" + Files.readString(log));
    }

    private static void awaitArchived(PgCluster pg) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(90);
        while (System.nanoTime() < deadline) {
            if ("0".equals(pg.queryValue("SELECT count(*) FROM pg_ls_archive_statusdir() WHERE name LIKE '%.ready'"))) {
                return;
            }
            Thread.sleep(200);
        }
        throw new AssertionError("the archiver did not catch up: " + pg.queryValue("SELECT row_to_json(a)::text FROM pg_stat_archiver a"));
    }

    private static String value(Statement st, String sql) throws Exception {
        try (ResultSet rs = st.executeQuery(sql)) {
            rs.next();
            return rs.getString(1);
        }
    }
}
