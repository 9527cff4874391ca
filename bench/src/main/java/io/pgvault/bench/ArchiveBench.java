package io.pgvault.bench;

import static io.pgvault.bench.BenchSupport.*;

import io.pgvault.testkit.Fixtures;
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
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * What archive_command costs per segment: the same pgbench WAL pushed one segment per
 * command, serially as PostgreSQL's archiver does, by
 * <ul>
 *   <li>pgvault: {@code curl -fsS -T %p http://.../wal/%f} into a running server (local repository),</li>
 *   <li>pgBackRest: {@code pgbackrest archive-push %p} (local repository, zst level 3 and 1),</li>
 *   <li>plain {@code cp} plus {@code sync} as the floor.</li>
 * </ul>
 * Each command runs as the PostgreSQL OS user through {@code sh -c}, as the archiver runs it,
 * timed from inside one loop of that user's shell.
 *
 * <p>Usage: {@code java -cp bench/target/pgvault-bench.jar io.pgvault.bench.ArchiveBench
 * --server-jar server/target/pgvault-server.jar [--major 15] [--scale 20] [--seconds 30]}
 */
public final class ArchiveBench {

    private static final double MIB = BenchSupport.MIB;

    /** @param p50Ms the median of the calls' own times */
    record Figures(String name, int files, long rawBytes, double wallSeconds, long storedBytes, double serverCpuSeconds, double p50Ms) {
    }

    /** Second pushes of segments already archived (a streamed cluster's archive_command sends each one again). */
    private static final List<Figures> DUPLICATES = new ArrayList<>();

    /** pgvault's push-ahead (wal-push --spool) and pgBackRest's archive-async, on a backlog of ready files: new, then again. */
    private static final List<Figures> PUSH_AHEAD = new ArrayList<>();

    /**
     * Runs one command per file as the PostgreSQL user, each through {@code sh -c} as the
     * archiver runs archive_command ({@code system()}), from one loop of that user's shell that
     * stamps each call with {@code $EPOCHREALTIME} (no fork); each call's milliseconds. Switching
     * to that user for every call (runuser: about 16 ms here, plus bash and the JVM's own spawn)
     * would add to every tool's figure what PostgreSQL never waits for.
     */
    private static List<Double> timedCalls(List<Path> files, java.util.function.Function<Path, String> command) throws Exception {
        return timedCalls(files, command, null);
    }

    /**
     * @param data null, or a data directory whose {@code pg_wal} holds the files: each call then runs there with
     *             {@code pg_wal/NAME} as %p, and after its success the loop renames {@code archive_status/NAME.ready} to
     *             {@code .done}, untimed, as PostgreSQL's archiver does
     */
    private static List<Double> timedCalls(List<Path> files, java.util.function.Function<Path, String> command, Path data) throws Exception {
        Path dir = Files.createTempDirectory("pgvault-archive-calls");
        try {
            List<String> commands = new ArrayList<>();
            for (Path f : files) {
                commands.add(f.getFileName() + " " + command.apply(f));
            }
            Files.write(dir.resolve("commands.txt"), commands);
            String done = data == null ? "" : "  mv pg_wal/archive_status/$name.ready pg_wal/archive_status/$name.done\n";
            Files.writeString(dir.resolve("loop.sh"), "cd " + (data == null ? dir : data) + "\nwhile read -r name cmd; do\n  s=$EPOCHREALTIME\n"
                    + "  sh -c \"$cmd\" || { echo \"failed: $cmd\" >&2; exit 1; }\n  echo \"$s $EPOCHREALTIME\" >> " + dir.resolve("times.txt") + "\n"
                    + done + "done < " + dir.resolve("commands.txt") + "\n");
            OsUser.own(dir);
            asPgUser("bash " + dir.resolve("loop.sh"));
            List<Double> ms = new ArrayList<>();
            for (String line : Files.readAllLines(dir.resolve("times.txt"))) {
                String[] t = line.split(" ");
                ms.add(1000 * (Double.parseDouble(t[1]) - Double.parseDouble(t[0])));
            }
            return ms;
        } finally {
            Fixtures.deleteTree(dir);
        }
    }

    private static double median(List<Double> values) {
        List<Double> sorted = new ArrayList<>(values);
        sorted.sort(null);
        return sorted.get(sorted.size() / 2);
    }

    private static double sumSeconds(List<Double> ms) {
        return ms.stream().mapToDouble(Double::doubleValue).sum() / 1000;
    }

    /** Warm-up passes at least, and at most (--warmup, --max-warmup); see {@link #warm}. */
    private static int warmupPasses = 3;
    private static int maxWarmupPasses = 12;
    /** JIT compiler CPU per segment below which a server counts as warm, as one archiving for weeks is. */
    private static final double SETTLED_JIT_MS_PER_SEGMENT = 5;

    public static void main(String[] args) throws Exception {
        warmupPasses = intArg(args, "--warmup", 3);
        maxWarmupPasses = Math.max(warmupPasses, intArg(args, "--max-warmup", 12));
        int major = intArg(args, "--major", 15);
        int scale = intArg(args, "--scale", 20);
        int seconds = intArg(args, "--seconds", 30);
        Path serverJar = Path.of(stringArg(args, "--server-jar", "server/target/pgvault-server.jar")).toAbsolutePath();

        Path work = Files.createTempDirectory("pgvault-archive-bench");
        Files.setPosixFilePermissions(work, PosixFilePermissions.fromString("rwxr-xr-x"));
        Path corpus = Files.createDirectories(work.resolve("corpus"));
        OsUser.own(work);
        try (PgCluster pg = copyArchivingPrimary(major, corpus)) {
            List<Path> files = pgbenchWalCorpus(pg, corpus, scale, seconds);
            long raw = 0;
            for (Path f : files) {
                raw += Files.size(f);
            }
            System.out.printf(Locale.ROOT, "%nWAL corpus: %d segments, %.0f MiB (pgbench scale %d, %d s, PostgreSQL %d)%n",
                    files.size(), raw / MIB, scale, seconds, major);

            List<Figures> results = new ArrayList<>();
            results.add(pgvault(work, serverJar, files, raw, "zstd"));
            if (System.getenv("PGVAULT_BENCH_ONLY_PGVAULT") != null) {
                Figures f = results.get(0);
                for (Figures row : List.of(f, DUPLICATES.get(0))) {
                    System.out.printf(Locale.ROOT, "%s: %.1f ms/segment, p50 %.1f ms, server CPU %.1f ms/segment%n", row.name(),
                            1000 * row.wallSeconds() / row.files(), row.p50Ms(), 1000 * row.serverCpuSeconds() / row.files());
                }
                return;
            }
            results.add(pgvault(work, serverJar, files, raw, "zstd:3"));
            results.add(pgbackrest(work, pg, files, raw, 3, false));
            results.add(pgbackrest(work, pg, files, raw, 1, false));
            results.add(copy(work, files, raw));
            // Push-ahead against pgBackRest's asynchronous archiving: a backlog of ready files in a pg_wal.
            pushAhead(work, pg, serverJar, files, raw);
            pgbackrestAsync(work, pg, files, raw);
            if (args.length > 0 && java.util.Arrays.asList(args).contains("--encrypted")) {
                results.add(pgvault(work, serverJar, files, raw, "zstd", true));
                results.add(pgbackrest(work, pg, files, raw, 3, true));
            }

            System.out.println();
            System.out.printf(Locale.ROOT, "%-44s %8s %8s %10s %9s %10s %14s%n", "archive_command", "ms/seg", "p50 ms", "MiB/s", "stored %",
                    "segs/s", "server CPU/seg");
            List<Figures> rows = new ArrayList<>(results);
            rows.addAll(DUPLICATES);
            rows.addAll(PUSH_AHEAD);
            for (Figures f : rows) {
                System.out.printf(Locale.ROOT, "%-44s %8.1f %8.1f %10.1f %8.1f%% %10.1f %14s%n", f.name(), 1000 * f.wallSeconds() / f.files(),
                        f.p50Ms(), f.rawBytes() / MIB / f.wallSeconds(), 100.0 * f.storedBytes() / f.rawBytes(), f.files() / f.wallSeconds(),
                        f.serverCpuSeconds() < 0 ? "-" : String.format(Locale.ROOT, "%.1f ms", 1000 * f.serverCpuSeconds() / f.files()));
            }
            if (DUPLICATES.size() == 2) {
                System.out.printf(Locale.ROOT, "%np50 per call: pgvault (zstd 1) %.2fx pgBackRest archive-push (zst 3); a segment already archived: %.2fx%n",
                        results.get(0).p50Ms() / results.get(2).p50Ms(), DUPLICATES.get(0).p50Ms() / DUPLICATES.get(1).p50Ms());
                BenchSummary.add("archive_command p50: curl PUT / archive-push (zst 3)", "ms", results.get(0).p50Ms(), results.get(2).p50Ms(),
                        BenchSummary.Goal.NONE);
            }
            if (PUSH_AHEAD.size() == 4) {
                Figures ahead = PUSH_AHEAD.get(0);
                Figures theirsAsync = PUSH_AHEAD.get(2);
                System.out.printf(Locale.ROOT, "p50 per call on a backlog: pgvault wal-push --spool %.2fx pgBackRest archive-push sync (zst 3), %.2fx its "
                        + "archive-async; a segment already archived: %.2fx sync, %.2fx async%n", ahead.p50Ms() / results.get(2).p50Ms(),
                        ahead.p50Ms() / theirsAsync.p50Ms(), PUSH_AHEAD.get(1).p50Ms() / DUPLICATES.get(1).p50Ms(),
                        PUSH_AHEAD.get(1).p50Ms() / PUSH_AHEAD.get(3).p50Ms());
                BenchSummary.add("archive_command p50, backlog: wal-push --spool / archive-push", "ms", ahead.p50Ms(), results.get(2).p50Ms(),
                        BenchSummary.Goal.ratioAtMost(0.5));
                BenchSummary.add("archive_command p50, backlog: wal-push --spool / archive-async", "ms", ahead.p50Ms(), theirsAsync.p50Ms(),
                        BenchSummary.Goal.NONE);
                BenchSummary.add("archive_command p50, already archived: wal-push / archive-push", "ms", PUSH_AHEAD.get(1).p50Ms(),
                        DUPLICATES.get(1).p50Ms(), BenchSummary.Goal.ratioAtMost(0.2));
                BenchSummary.add("archive_command p50, already archived: wal-push / archive-async", "ms", PUSH_AHEAD.get(1).p50Ms(),
                        PUSH_AHEAD.get(3).p50Ms(), BenchSummary.Goal.NONE);
            }
            Figures ours = results.get(0);
            Figures theirs = results.get(2);
            System.out.printf(Locale.ROOT, "%npgvault (zstd 1) vs pgBackRest archive-push (zst 3): %.2fx the segments per second, stored size x%.2f%n",
                    theirs.wallSeconds() / ours.wallSeconds(), (double) ours.storedBytes() / theirs.storedBytes());
            Figures ours3 = results.get(1);
            System.out.printf(Locale.ROOT, "pgvault (zstd 3) vs pgBackRest archive-push (zst 3): %.2fx the segments per second, stored size x%.2f%n",
                    theirs.wallSeconds() / ours3.wallSeconds(), (double) ours3.storedBytes() / theirs.storedBytes());
            if (results.size() > 6) {
                Figures encrypted = results.get(5);
                Figures theirsEncrypted = results.get(6);
                System.out.printf(Locale.ROOT, "pgvault encrypted vs unencrypted (zstd 1): %.2fx the time per segment%n",
                        encrypted.wallSeconds() / ours.wallSeconds());
                System.out.printf(Locale.ROOT, "pgvault encrypted vs pgBackRest aes-256-cbc (zst 3): %.2fx the segments per second%n",
                        theirsEncrypted.wallSeconds() / encrypted.wallSeconds());
            }
        } finally {
            if (System.getenv("PGVAULT_BENCH_KEEP") != null) {
                System.out.println("kept (PGVAULT_BENCH_KEEP): " + work);
            } else {
                Fixtures.deleteTree(work);
            }
        }
    }

    private static Figures pgvault(Path work, Path serverJar, List<Path> files, long raw, String compression) throws Exception {
        return pgvault(work, serverJar, files, raw, compression, false);
    }

    /** @param encrypted with a repository key (a generated key file): every object encrypted before it is stored */
    private static Figures pgvault(Path work, Path serverJar, List<Path> files, long raw, String compression, boolean encrypted) throws Exception {
        Path dir = Files.createDirectories(work.resolve("pgvault-" + compression.replace(':', '-') + (encrypted ? "-encrypted" : "")));
        int port = Fixtures.freePort();
        List<String> properties = new ArrayList<>();
        if (encrypted) {
            properties.add(encryptionProperty(dir.resolve("repo.key")));
        }
        Process server = startServer(serverJar, dir, port, compression, properties);
        try {
            String url = "http://127.0.0.1:" + port;
            HttpClient http = HttpClient.newHttpClient();
            registerCluster(url, "{\"name\":\"bench\"}");
            // Warm the server's JIT the way a long-running server is warm: archive the
            // whole corpus, untimed, into throwaway clusters (see warm).
            warm("pgvault curl PUT", server, files.size(), pass -> {
                http.send(HttpRequest.newBuilder(URI.create(url + "/v1/clusters")).header("Content-Type", "application/json")
                        .POST(HttpRequest.BodyPublishers.ofString("{\"name\":\"warmup" + pass + "\"}")).build(), HttpResponse.BodyHandlers.discarding());
                for (Path f : files) {
                    asPgUser("curl -fsS -o /dev/null -T " + f + " " + url + "/v1/clusters/warmup" + pass + "/wal/" + f.getFileName());
                }
            });
            double cpuBefore = cpuSeconds(server.pid());
            java.util.function.Function<Path, String> push = f -> "curl -fsS -o /dev/null -T " + f + " " + url + "/v1/clusters/bench/wal/"
                    + f.getFileName();
            List<Double> calls = timedCalls(files, push);
            double cpu = cpuSeconds(server.pid()) - cpuBefore;
            String name = "pgvault curl PUT (" + compression + (encrypted ? ", encrypted" : "") + ")";
            Figures figures = new Figures(name, files.size(), raw, sumSeconds(calls), directorySize(dir.resolve("repo/clusters/bench/wal")), cpu,
                    median(calls));
            if (compression.equals("zstd") && !encrypted) {
                cpuBefore = cpuSeconds(server.pid());
                List<Double> again = timedCalls(files, push);
                DUPLICATES.add(new Figures(name + ", again", files.size(), raw, sumSeconds(again), 0, cpuSeconds(server.pid()) - cpuBefore,
                        median(again)));
            }
            return figures;
        } finally {
            server.destroy();
            server.waitFor(30, TimeUnit.SECONDS);
        }
    }

    private static Figures pgbackrest(Path work, PgCluster pg, List<Path> files, long raw, int level, boolean encrypted) throws Exception {
        Path dir = Files.createDirectories(work.resolve("pgbackrest-" + level + (encrypted ? "-encrypted" : "")));
        Path conf = dir.resolve("pgbackrest.conf");
        Files.writeString(conf, "[global]\nrepo1-path=" + dir.resolve("repo") + "\nlog-path=" + dir + "\nlock-path=" + dir
                + (encrypted ? "\nrepo1-cipher-type=aes-256-cbc\nrepo1-cipher-pass=bench-cipher-passphrase-0123456789" : "")
                + "\nspool-path=" + dir + "\ncompress-type=zst\ncompress-level=" + level + "\nlog-level-console=warn\n\n[bench]\npg1-path="
                + pg.dataDirectory() + "\npg1-port=" + pg.port() + "\npg1-socket-path=" + pg.directory().resolve("sock") + "\npg1-user=postgres\n");
        OsUser.own(dir);
        asPgUser("pgbackrest --config=" + conf + " --stanza=bench stanza-create");
        java.util.function.Function<Path, String> push = f -> "pgbackrest --config=" + conf + " --stanza=bench archive-push " + f;
        List<Double> calls = timedCalls(files, push);
        String name = "pgBackRest archive-push (zst " + level + (encrypted ? ", aes-256-cbc" : "") + ")";
        Figures figures = new Figures(name, files.size(), raw, sumSeconds(calls), directorySize(dir.resolve("repo/archive")), -1, median(calls));
        if (level == 3 && !encrypted) {
            // pgBackRest checks a segment it already holds (same checksum: a warning and success).
            List<Double> again = timedCalls(files, push);
            DUPLICATES.add(new Figures(name + ", again", files.size(), raw, sumSeconds(again), 0, -1, median(again)));
        }
        return figures;
    }

    /**
     * A data directory whose pg_wal holds the corpus (hard links) with every file marked ready, as PostgreSQL leaves a
     * backlog for its archiver; pg_control copied for pgBackRest, which reads it.
     */
    private static Path backlog(Path dir, PgCluster pg, List<Path> files) throws Exception {
        Path data = dir.resolve("data");
        Files.createDirectories(data.resolve("pg_wal/archive_status"));
        Files.createDirectories(data.resolve("global"));
        Files.copy(pg.dataDirectory().resolve("global/pg_control"), data.resolve("global/pg_control"));
        for (Path f : files) {
            Path wal = data.resolve("pg_wal").resolve(f.getFileName());
            Files.deleteIfExists(wal);
            Files.createLink(wal, f);
        }
        markReady(data, files);
        OsUser.own(dir);
        return data;
    }

    private static void markReady(Path data, List<Path> files) throws IOException {
        Path status = data.resolve("pg_wal/archive_status");
        for (Path f : files) {
            Files.deleteIfExists(status.resolve(f.getFileName() + ".done"));
            Files.write(status.resolve(f.getFileName() + ".ready"), new byte[0]);
        }
        OsUser.own(status);
    }

    /** pgvault wal-push --spool (push-ahead, 2 at a time) into a warm server: a backlog, then the same files again (two rows). */
    private static void pushAhead(Path work, PgCluster pg, Path serverJar, List<Path> files, long raw) throws Exception {
        Path dir = Files.createDirectories(work.resolve("pgvault-push-ahead"));
        int port = Fixtures.freePort();
        Process server = startServer(serverJar, dir, port, "zstd", List.of());
        Path data = null;
        try {
            String url = "http://127.0.0.1:" + port;
            registerCluster(url, "{\"name\":\"bench\"}");
            String launcher = Path.of("bin/pgvault").toAbsolutePath().toString();
            // Warmed the way it is measured: the server's JIT compiles the path zstd frames take, not curl's.
            warm("pgvault wal-push --spool", server, files.size(), pass -> {
                String cluster = "warmup" + pass;
                registerCluster(url, "{\"name\":\"" + cluster + "\"}");
                Path warm = backlog(Files.createDirectories(work.resolve("pgvault-push-ahead-" + cluster)), pg, files);
                timedCalls(files, f -> launcher + " wal-push --server " + url + " --cluster " + cluster
                        + " --spool pg_wal/pgvault-push pg_wal/" + f.getFileName(), warm);
                stopPusher(warm.resolve("pg_wal/pgvault-push"));
                Fixtures.deleteTree(warm);
            });
            data = backlog(dir, pg, files);
            java.util.function.Function<Path, String> push = f -> launcher + " wal-push --server " + url + " --cluster bench --spool pg_wal/pgvault-push pg_wal/"
                    + f.getFileName();
            double cpuBefore = cpuSeconds(server.pid());
            double jitBefore = compilerCpuSeconds(server.pid());
            List<Double> calls = timedCalls(files, push, data);
            double cpu = cpuSeconds(server.pid()) - cpuBefore;
            System.out.printf(Locale.ROOT, "  the timed backlog: server CPU %.1f ms per segment, %.1f of it its JIT%n", 1000 * cpu / files.size(),
                    1000 * (compilerCpuSeconds(server.pid()) - jitBefore) / files.size());
            String name = "pgvault wal-push --spool (push-ahead, 2)";
            PUSH_AHEAD.add(new Figures(name, files.size(), raw, sumSeconds(calls), directorySize(dir.resolve("repo/clusters/bench/wal")), cpu,
                    median(calls)));
            markReady(data, files);
            cpuBefore = cpuSeconds(server.pid());
            List<Double> again = timedCalls(files, push, data);
            PUSH_AHEAD.add(new Figures(name + ", again", files.size(), raw, sumSeconds(again), 0, cpuSeconds(server.pid()) - cpuBefore,
                    median(again)));
        } finally {
            if (data != null) {
                stopPusher(data.resolve("pg_wal/pgvault-push"));
            }
            server.destroy();
            server.waitFor(30, TimeUnit.SECONDS);
        }
    }

    interface Pass {
        void run(int pass) throws Exception;
    }

    /**
     * Runs untimed passes over the corpus until the server's JIT has settled: at least
     * --warmup passes (3), then until its compiler threads used less than
     * {@link #SETTLED_JIT_MS_PER_SEGMENT} per segment in a pass, at most --max-warmup (12).
     * A fixed three passes (54 segments) left C2 compiling: it still took 14-20 ms of CPU per
     * segment in passes 4 and 5 and 5-13 ms from the seventh, on a server whose work is 30-40 ms
     * per segment, and all of it counted against the timed pass. A server archiving
     * for weeks compiled all that long ago. Prints each pass's JIT CPU.
     */
    private static void warm(String what, Process server, int segments, Pass pass) throws Exception {
        StringBuilder jit = new StringBuilder();
        for (int i = 0; i < maxWarmupPasses; i++) {
            double before = compilerCpuSeconds(server.pid());
            pass.run(i);
            double perSegment = 1000 * (compilerCpuSeconds(server.pid()) - before) / segments;
            jit.append(jit.length() == 0 ? "" : ", ").append(String.format(Locale.ROOT, "%.1f", perSegment));
            if (i + 1 >= warmupPasses && perSegment < SETTLED_JIT_MS_PER_SEGMENT) {
                break;
            }
        }
        System.out.printf(Locale.ROOT, "  %s: server warmed by %d passes over the corpus, its JIT's CPU per segment in each: %s ms%n", what,
                jit.toString().split(", ").length, jit);
    }

    /** Stops the pusher named in the spool's .pid (only a PushAheadDaemon: the pid file may outlive it). */
    private static void stopPusher(Path spool) {
        try {
            io.pgvault.core.process.ProcessIdentity.parse(Files.readString(spool.resolve(".pid")))
                    .filter(io.pgvault.core.process.ProcessIdentity::alive)
                    .flatMap(owner -> ProcessHandle.of(owner.pid()))
                    .filter(h -> h.info().commandLine().orElse("").contains("PushAheadDaemon"))
                    .ifPresent(h -> {
                        h.destroy();
                        h.onExit().join();
                    });
        } catch (IOException e) {
            // no pusher runs
        }
    }

    /** pgbackrest archive-push with archive-async (zst 3, process-max 2) on a backlog, then the same files again (two rows). */
    private static void pgbackrestAsync(Path work, PgCluster pg, List<Path> files, long raw) throws Exception {
        Path dir = Files.createDirectories(work.resolve("pgbackrest-async"));
        Path data = backlog(dir, pg, files);
        String global = "[global]\nrepo1-path=" + dir.resolve("repo") + "\nlog-path=" + dir + "\nlock-path=" + dir
                + "\nspool-path=" + dir.resolve("spool") + "\narchive-async=y\nprocess-max=2\ncompress-type=zst\ncompress-level=3"
                + "\nlog-level-console=warn\n\n[bench]\n";
        // stanza-create checks pg1-path against the running cluster; archive-push reads pg_control and pg_wal from the backlog's.
        Path create = dir.resolve("pgbackrest-create.conf");
        Files.writeString(create, global + "pg1-path=" + pg.dataDirectory() + "\npg1-port=" + pg.port() + "\npg1-socket-path="
                + pg.directory().resolve("sock") + "\npg1-user=postgres\n");
        Path conf = dir.resolve("pgbackrest.conf");
        Files.writeString(conf, global + "pg1-path=" + data + "\n");
        Files.createDirectories(dir.resolve("spool"));
        OsUser.own(dir);
        asPgUser("pgbackrest --config=" + create + " --stanza=bench stanza-create");
        java.util.function.Function<Path, String> push = f -> "pgbackrest --config=" + conf + " --stanza=bench archive-push pg_wal/" + f.getFileName();
        List<Double> calls = timedCalls(files, push, data);
        String name = "pgBackRest archive-push async (zst 3, process-max 2)";
        PUSH_AHEAD.add(new Figures(name, files.size(), raw, sumSeconds(calls), directorySize(dir.resolve("repo/archive")), -1, median(calls)));
        markReady(data, files);
        List<Double> again = timedCalls(files, push, data);
        PUSH_AHEAD.add(new Figures(name + ", again", files.size(), raw, sumSeconds(again), 0, -1, median(again)));
    }

    private static Figures copy(Path work, List<Path> files, long raw) throws Exception {
        Path dir = Files.createDirectories(work.resolve("cp"));
        OsUser.own(dir);
        List<Double> calls = timedCalls(files, f -> "cp " + f + " " + dir + "/ && sync " + dir.resolve(f.getFileName()));
        return new Figures("cp + sync (no compression)", files.size(), raw, sumSeconds(calls), directorySize(dir), -1, median(calls));
    }
}
