package io.pgvault.cli.soak;

import io.pgvault.cli.RecoverySupport;
import io.pgvault.core.wal.Lsn;
import io.pgvault.core.wal.TimelineId;
import io.pgvault.core.wal.WalFileName;
import io.pgvault.core.wal.WalSegmentSize;
import io.pgvault.testkit.OsUser;
import io.pgvault.testkit.PgCluster;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * One PostgreSQL of the soak: it archives every WAL file through the soak's archive_command
 * (the README's curl push, timed, with the SHA-256 of each acknowledged file noted), runs
 * pgbench at a low rate, and a writer commits rows to {@code marks} one by one and switches
 * WAL every 15 s so that segments of every size keep flowing.
 */
final class SoakCluster implements AutoCloseable {

    /**
     * The archive_command: {@code PUSH_SCRIPT %p %f LOG_DIR WAL_URL}. Each call appends
     * "file start_ns end_ns curl_exit http_status" to pushes.log, and once the server said
     * 2xx, "file sha256" to acked.log: what PostgreSQL saw acknowledged, without keeping a
     * copy of every segment for hours.
     */
    static final String PUSH_SCRIPT = """
            #!/bin/sh
            p="$1"; f="$2"; dir="$3"; url="$4"
            start=$(date +%s%N)
            status=$(curl -fsS -T "$p" -o /dev/null -w '%{http_code}' "$url/$f" 2>>"$dir/curl.err")
            rc=$?
            end=$(date +%s%N)
            echo "$f $start $end $rc ${status:-000}" >> "$dir/pushes.log"
            [ "$rc" -eq 0 ] || exit 1
            sum=$(sha256sum "$p") || exit 1
            echo "$f ${sum%% *}" >> "$dir/acked.log"
            """;

    private static final Duration SWITCH_EVERY = Duration.ofSeconds(15);

    private final String name;
    private final int segmentMb;
    private final boolean streams;
    private final Path dir;
    private final PgCluster pg;
    private final AtomicInteger committed = new AtomicInteger();
    private final AtomicInteger switches = new AtomicInteger();
    private final List<String> writerErrors = new CopyOnWriteArrayList<>();
    private Process pgbench;
    private Thread writer;
    private volatile boolean stopping;

    private SoakCluster(String name, int segmentMb, boolean streams, Path dir, PgCluster pg) {
        this.name = name;
        this.segmentMb = segmentMb;
        this.streams = streams;
        this.dir = dir;
        this.pg = pg;
    }

    /** Writes the archive_command script into {@code workDir}, where PostgreSQL's user can run it. */
    static Path writePushScript(Path workDir) throws IOException {
        Path script = workDir.resolve("soak-push.sh");
        Files.writeString(script, PUSH_SCRIPT);
        Files.setPosixFilePermissions(script, PosixFilePermissions.fromString("rwxr-xr-x"));
        return script;
    }

    static SoakCluster start(String name, int major, int segmentMb, boolean streams, Path workDir, Path script, String serverUrl)
            throws IOException {
        Path dir = Files.createDirectories(workDir.resolve(name));
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
        OsUser.own(dir);
        String command = script + " %p %f " + dir + " " + serverUrl + "/v1/clusters/" + name + "/wal";
        PgCluster pg = PgCluster.builder(major)
                .walSegmentSizeMb(segmentMb)
                .setting("archive_mode", "on")
                .setting("archive_command", command)
                .start();
        return new SoakCluster(name, segmentMb, streams, dir, pg);
    }

    String name() {
        return name;
    }

    int segmentMb() {
        return segmentMb;
    }

    boolean streams() {
        return streams;
    }

    PgCluster pg() {
        return pg;
    }

    String conninfo() {
        return "host=127.0.0.1 port=" + pg.port() + " user=postgres";
    }

    String describe() {
        return name + " (PostgreSQL " + pg.major() + ", " + segmentMb + " MiB segments" + (streams ? ", streamed too" : "") + ")";
    }

    /** Registers the cluster with the server (streamed from a slot of the server's when {@link #streams()}). */
    void register(HttpClient http, String serverUrl) throws IOException, InterruptedException {
        String body = "{\"name\":\"" + name + "\",\"conninfo\":\"" + conninfo() + "\",\"stream\":" + streams + "}";
        HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(serverUrl + "/v1/clusters")).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
        if (r.statusCode() != 201) {
            throw new IllegalStateException("cannot register " + name + ": " + r.statusCode() + " " + r.body());
        }
    }

    /** pgbench's tables and the marks table. */
    void prepare() throws Exception {
        RecoverySupport.shell("pgbench -i -q -s 1 " + pgbenchConnection() + " postgres");
        pg.execute("CREATE TABLE marks (id int PRIMARY KEY, v text NOT NULL)");
    }

    private String pgbenchConnection() {
        return "-h 127.0.0.1 -p " + pg.port() + " -U postgres";
    }

    /** pgbench at {@code rate} transactions a second for at most {@code duration}, and the writer. */
    void startLoad(int rate, Duration duration) throws IOException {
        pgbench = new ProcessBuilder("bash", "-c", "exec pgbench -n -R " + rate + " -c 1 -j 1 -T " + duration.toSeconds() + " "
                + pgbenchConnection() + " postgres").redirectErrorStream(true).redirectOutput(dir.resolve("pgbench.log").toFile()).start();
        writer = new Thread(this::write, "soak-writer-" + name);
        writer.setDaemon(true);
        writer.start();
    }

    /** Commits one row after another; an error is noted and the writer connects again. */
    private void write() {
        int id = 1;
        long nextSwitch = System.nanoTime() + SWITCH_EVERY.toNanos();
        while (!stopping) {
            try (Connection c = pg.connect(); Statement st = c.createStatement()) {
                while (!stopping) {
                    st.execute("INSERT INTO marks VALUES (" + id + ", md5(random()::text))");
                    id++;
                    committed.incrementAndGet();
                    if (System.nanoTime() > nextSwitch) {
                        st.execute("SELECT pg_switch_wal()");
                        switches.incrementAndGet();
                        nextSwitch = System.nanoTime() + SWITCH_EVERY.toNanos();
                    }
                    Thread.sleep(200);
                }
            } catch (SQLException e) {
                writerErrors.add(e.getMessage());
                id++;
                sleepQuietly(1000);
            } catch (InterruptedException e) {
                return;
            }
        }
    }

    void stopLoad() throws InterruptedException {
        stopping = true;
        if (writer != null) {
            writer.join(TimeUnit.SECONDS.toMillis(30));
        }
        if (pgbench != null && !pgbench.isAlive() && pgbench.exitValue() != 0 && writerErrors.stream().noneMatch(e -> e.startsWith("pgbench"))) {
            writerErrors.add("pgbench exited with code " + pgbench.exitValue() + " before the end of the soak (see " + dir.resolve("pgbench.log") + ")");
        }
        if (pgbench != null && pgbench.isAlive()) {
            pgbench.destroy();
            if (!pgbench.waitFor(30, TimeUnit.SECONDS)) {
                pgbench.destroyForcibly();
            }
        }
        pgbench = null;
    }

    int committed() {
        return committed.get();
    }

    int switches() {
        return switches.get();
    }

    /** What went wrong with the load: the row writer's errors, pgbench ending early. */
    List<String> writerErrors() {
        return List.copyOf(writerErrors);
    }

    /** Rows of marks, as one comparable value. */
    String checksum() {
        return pg.queryValue(RecoverySupport.CHECKSUM);
    }

    /**
     * Switches WAL and waits until the archiver has shipped everything up to the switch and
     * has nothing left to ship (no {@code .ready} file), then returns the last segment.
     */
    WalFileName awaitAllArchived(Duration timeout) throws IOException, InterruptedException {
        Lsn end = Lsn.parse(pg.queryValue("SELECT pg_switch_wal()"));
        String timeline = pg.queryValue("SELECT timeline_id FROM pg_control_checkpoint()");
        WalFileName last = WalFileName.segmentOf(new TimelineId(Long.parseLong(timeline)), end.plus(-1), WalSegmentSize.ofMegabytes(segmentMb));
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            String archived = pg.queryValue("SELECT coalesce(last_archived_wal, '') FROM pg_stat_archiver");
            String ready = pg.queryValue("SELECT count(*) FROM pg_ls_archive_statusdir() WHERE name LIKE '%.ready'");
            if (archived.compareTo(last.toString()) >= 0 && "0".equals(ready) && acknowledged().containsKey(last.toString())) {
                return last;
            }
            Thread.sleep(500);
        }
        throw new AssertionError(name + ": the archiver did not ship everything up to " + last + " within " + timeout + "; pg_stat_archiver: "
                + pg.queryValue("SELECT row_to_json(a)::text FROM pg_stat_archiver a") + "; curl's last errors:\n" + tail(dir.resolve("curl.err")));
    }

    List<Push> pushes() throws IOException {
        return Push.read(name, dir.resolve("pushes.log"));
    }

    /** Every file PostgreSQL saw acknowledged, with its SHA-256, in the order acknowledged. */
    Map<String, String> acknowledged() throws IOException {
        Map<String, String> acked = new LinkedHashMap<>();
        Path log = dir.resolve("acked.log");
        if (Files.exists(log)) {
            for (String line : Files.readAllLines(log)) {
                String[] f = line.trim().split(" ");
                if (f.length == 2 && f[1].matches("[0-9a-f]{64}")) {
                    acked.put(f[0], f[1]);
                }
            }
        }
        return acked;
    }

    /** curl's error lines (what the server or the network said when a push failed). */
    List<String> curlErrors() throws IOException {
        Path log = dir.resolve("curl.err");
        return Files.exists(log) ? Files.readAllLines(log) : List.of();
    }

    private static String tail(Path file) throws IOException {
        if (!Files.exists(file)) {
            return "(none)";
        }
        List<String> lines = Files.readAllLines(file);
        return String.join("\n", lines.subList(Math.max(0, lines.size() - 10), lines.size()));
    }

    private static void sleepQuietly(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public void close() throws InterruptedException {
        try {
            stopLoad();
        } finally {
            pg.close();
        }
    }
}
