package io.pgvault.bench;

import static io.pgvault.bench.BenchSupport.*;

import io.pgvault.testkit.Fixtures;
import io.pgvault.testkit.OsUser;
import io.pgvault.testkit.PgCluster;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * Sustained archive throughput with 1, 4 and 16 concurrent pushers, and concurrent restores in
 * a small heap. The same pgbench WAL (real segments under their real names: pgvault checks a
 * name against the page headers) is split among N pushers that push their shares in parallel,
 * each one segment per command as archive_command does:
 * <ul>
 *   <li>pgvault: {@code curl -T} into a running server with a 256 MiB heap, retrying after
 *       {@code Retry-After} when it answers 503 (over its limits), as the archiver retries;</li>
 *   <li>pgBackRest: {@code archive-push} with {@code archive-async=y} and {@code process-max=2}
 *       (zst 3, its default, and zst 1, pgvault's default level), the callers waiting for the
 *       async process's acknowledgement, which it gives once the segment is in the repository.</li>
 * </ul>
 * Each round pushes into a new cluster (pgvault) or stanza (pgBackRest), so no segment is a
 * duplicate. Then {@link RestoreStorm}: parallel GETs of 64 MiB segments.
 *
 * <p>Usage: {@code java -cp bench/target/pgvault-bench.jar io.pgvault.bench.ArchiveLoadBench
 * --server-jar server/target/pgvault-server.jar [--major 15] [--segments 64] [--scale 60]
 * [--seconds 10] [--pushers 1,4,16] [--heap 256m] [--warmup 2] [--pgbackrest-levels 3,1]
 * [--restore-segments 16] [--restore-scale 70] [--restore-rounds 3] [--no-restore]}
 */
public final class ArchiveLoadBench {

    /** One round: {@code pushers} callers over the whole corpus. */
    record LoadFigures(String tool, int pushers, ParallelCallers.Outcome outcome, long rawBytes, long storedBytes, double serverCpuSeconds,
            ServerMemory.Peaks memory) {

        double segmentsPerSecond() {
            return outcome.calls() / outcome.acknowledgedSeconds();
        }

        /** Server plus callers: for pgBackRest all of it is in its callers and the processes they start. */
        double totalCpuSeconds() {
            return Math.max(0, serverCpuSeconds) + outcome.callerCpuSeconds();
        }
    }

    private ArchiveLoadBench() {
    }

    public static void main(String[] args) throws Exception {
        String heap = stringArg(args, "--heap", "256m");
        Path serverJar = Path.of(stringArg(args, "--server-jar", "server/target/pgvault-server.jar")).toAbsolutePath();
        // The box may be shared: the load average says how much the figures can be trusted.
        System.out.println("load average at the start: " + Files.readString(Path.of("/proc/loadavg")).trim());
        Path work = Files.createTempDirectory("pgvault-archive-load-bench");
        Files.setPosixFilePermissions(work, PosixFilePermissions.fromString("rwxr-xr-x"));
        OsUser.own(work);
        try {
            printLoad(loadRounds(work, serverJar, heap, args), heap);
            if (!Arrays.asList(args).contains("--no-restore")) {
                RestoreStorm.run(work, serverJar, intArg(args, "--major", 15), heap, args);
            }
            System.out.println("\nload average at the end: " + Files.readString(Path.of("/proc/loadavg")).trim());
        } finally {
            Fixtures.deleteTree(work);
        }
    }

    /** Makes the corpus, then runs pgvault's rounds and pgBackRest's (each level) for each number of pushers. */
    private static List<LoadFigures> loadRounds(Path work, Path serverJar, String heap, String[] args) throws Exception {
        int major = intArg(args, "--major", 15);
        int[] pushers = Arrays.stream(stringArg(args, "--pushers", "1,4,16").split(",")).mapToInt(Integer::parseInt).toArray();
        int[] levels = Arrays.stream(stringArg(args, "--pgbackrest-levels", "3,1").split(",")).mapToInt(Integer::parseInt).toArray();
        Path corpus = Files.createDirectories(work.resolve("corpus"));
        OsUser.own(corpus);
        try (PgCluster pg = copyArchivingPrimary(major, corpus)) {
            List<Path> files = pgbenchWalCorpus(pg, corpus, intArg(args, "--scale", 60), intArg(args, "--seconds", 10),
                    intArg(args, "--segments", 64));
            long raw = totalSize(files);
            System.out.printf(Locale.ROOT, "%nLoad corpus: %d segments, %.0f MiB of pgbench WAL from PostgreSQL %d%n", files.size(), raw / MIB, major);
            List<LoadFigures> rounds = new ArrayList<>(pgvaultRounds(work, serverJar, files, raw, heap, pushers, intArg(args, "--warmup", 2)));
            for (int level : levels) {
                for (int n : pushers) {
                    rounds.add(pgbackrestRound(work, pg, files, raw, level, n));
                }
            }
            return rounds;
        }
    }

    /** One warm server, a round per number of pushers, each into a cluster of its own. */
    private static List<LoadFigures> pgvaultRounds(Path work, Path serverJar, List<Path> files, long raw, String heap, int[] pushers, int warmup)
            throws Exception {
        Path dir = Files.createDirectories(work.resolve("pgvault"));
        int port = Fixtures.freePort();
        String url = "http://127.0.0.1:" + port;
        Process server = startServer(serverJar, dir, port, "zstd", List.of(), heap);
        try {
            // A long-running server is warm: the corpus pushed untimed (4 pushers) into throwaway clusters first.
            for (int pass = 0; pass < warmup; pass++) {
                String cluster = "warmup" + pass;
                registerCluster(url, "{\"name\":\"" + cluster + "\"}");
                ParallelCallers.run(work.resolve("rounds/pgvault-warmup" + pass), files, 4, curlPush(url, cluster), null);
            }
            List<LoadFigures> rounds = new ArrayList<>();
            try (ServerMemory memory = ServerMemory.watch(server.pid())) {
                for (int n : pushers) {
                    String cluster = "load" + n;
                    registerCluster(url, "{\"name\":\"" + cluster + "\"}");
                    shell("sync");
                    memory.startWindow();
                    double cpuBefore = cpuSeconds(server.pid());
                    ParallelCallers.Outcome outcome = ParallelCallers.run(work.resolve("rounds/pgvault-" + n), files, n, curlPush(url, cluster), null);
                    double cpu = cpuSeconds(server.pid()) - cpuBefore;
                    rounds.add(new LoadFigures("pgvault curl PUT (zstd 1)", n, outcome, raw,
                            directorySize(dir.resolve("repo/clusters/" + cluster + "/wal")), cpu, memory.window()));
                }
            }
            return rounds;
        } finally {
            server.destroy();
            server.waitFor(30, TimeUnit.SECONDS);
        }
    }

    /**
     * archive_command as a bash function: {@code curl -T} the segment; on 503 wait what
     * Retry-After says (1 s when it says nothing usable) and try again, counting the retry.
     */
    static String curlPush(String url, String cluster) {
        return """
                call() {
                  local answer code wait
                  while true; do
                    answer=$(curl -sS -o /dev/null -w '%{http_code} %header{retry-after}' -T "$1" "@WAL@/${1##*/}") || return 1
                    code=${answer%% *}
                    wait=${answer#* }
                    case $code in
                      2??) return 0 ;;
                      503) echo "$1" >> "$RETRIES"; [[ $wait =~ ^[0-9]+$ ]] || wait=1; sleep "$wait" ;;
                      *) echo "HTTP $code for $1" >&2; return 1 ;;
                    esac
                  done
                }
                """.replace("@WAL@", url + "/v1/clusters/" + cluster + "/wal");
    }

    /**
     * A new stanza on {@code pg} with archive-async and process-max 2, pushing from a stand-in
     * data directory whose pg_wal holds the corpus (hard links) with a {@code .ready} file per
     * segment, as PostgreSQL leaves them: the async process pushes what it finds ready there,
     * ahead of the callers.
     */
    private static LoadFigures pgbackrestRound(Path work, PgCluster pg, List<Path> files, long raw, int level, int n) throws Exception {
        Path dir = Files.createDirectories(work.resolve("pgbackrest-zst" + level + "-" + n));
        Path data = dir.resolve("data");
        Path walDir = Files.createDirectories(data.resolve("pg_wal"));
        Path status = Files.createDirectories(walDir.resolve("archive_status"));
        List<Path> ready = new ArrayList<>();
        for (Path f : files) {
            ready.add(Files.createLink(walDir.resolve(f.getFileName()), f));
            Files.createFile(status.resolve(f.getFileName() + ".ready"));
        }
        Path conf = pgbackrestStandIn(pgbackrestStanza(dir, pg, "bench", level, "archive-async=y", "process-max=2"), pg, data);
        String functions = "call() { pgbackrest --config=" + conf + " --stanza=bench archive-push \"$1\"; }\n"
                + "after() { mv \"" + status + "/${1##*/}.ready\" \"" + status + "/${1##*/}.done\"; }\n";
        Path archive = dir.resolve("repo/archive/bench");
        shell("sync");
        ParallelCallers.Outcome outcome = ParallelCallers.run(work.resolve("rounds/pgbackrest-zst" + level + "-" + n), ready, n, functions,
                () -> segmentsIn(archive));
        return new LoadFigures("pgBackRest async (zst " + level + ")", n, outcome, raw, directorySize(archive), -1, null);
    }

    /** Segments pgBackRest has stored under {@code archive} (its temporary files not counted); 0 while a listing races a rename. */
    private static int segmentsIn(Path archive) {
        if (!Files.isDirectory(archive)) {
            return 0;
        }
        try (Stream<Path> paths = Files.walk(archive)) {
            return (int) paths.filter(p -> p.getFileName().toString().matches("[0-9A-F]{24}-[0-9a-f]{40}(\\.zst)?")).count();
        } catch (IOException | UncheckedIOException racing) {
            return 0;
        }
    }

    private static void printLoad(List<LoadFigures> rounds, String heap) {
        System.out.printf(Locale.ROOT, "%nArchiving the corpus with N pushers in parallel (pgvault -Xmx%s; pgBackRest archive-async, process-max 2)%n",
                heap);
        System.out.printf(Locale.ROOT, "%-28s %3s %8s %9s %7s %7s %7s %7s %7s %6s %8s %8s %8s %8s %6s %7s%n", "", "N", "acked s", "in repo s",
                "segs/s", "MiB/s", "p50 ms", "p99 ms", "retries", "failed", "srv CPU", "call CPU", "heap MiB", "RSS MiB", "GC s", "stored");
        for (LoadFigures f : rounds) {
            ParallelCallers.Outcome o = f.outcome();
            double inRepository = Double.isNaN(o.storedSeconds()) ? o.acknowledgedSeconds() : o.storedSeconds();
            System.out.printf(Locale.ROOT, "%-28s %3d %8.2f %9.2f %7.1f %7.1f %7.0f %7.0f %7d %6d %8s %8.2f %s %6.1f%%%n", f.tool(), f.pushers(),
                    o.acknowledgedSeconds(), inRepository, f.segmentsPerSecond(), f.rawBytes() / MIB / o.acknowledgedSeconds(),
                    percentile(o.callMs(), 50), percentile(o.callMs(), 99), o.retries(), o.failures(),
                    f.serverCpuSeconds() < 0 ? "-" : String.format(Locale.ROOT, "%.2f", f.serverCpuSeconds()), o.callerCpuSeconds(),
                    ServerMemory.columns(f.memory()), 100.0 * f.storedBytes() / f.rawBytes());
        }
        System.out.println("acked: until every push command returned; in repo: until every segment was in the repository (pgvault answers once"
                + " it is); srv CPU: pgvault server; call CPU: the pushers and every process they started (curl; all of pgBackRest)");
        for (LoadFigures ours : rounds) {
            if (!ours.tool().startsWith("pgvault")) {
                continue;
            }
            for (LoadFigures theirs : rounds) {
                if (theirs.pushers() == ours.pushers() && !theirs.tool().startsWith("pgvault")) {
                    System.out.printf(Locale.ROOT, "N=%d: pgvault vs %s: %.2fx the segments/s acked (%.2fx to the repository), p99 x%.2f,"
                            + " CPU (server + callers) x%.2f%n", ours.pushers(), theirs.tool(), ours.segmentsPerSecond() / theirs.segmentsPerSecond(),
                            theirs.outcome().storedSeconds() / ours.outcome().acknowledgedSeconds(),
                            percentile(ours.outcome().callMs(), 99) / percentile(theirs.outcome().callMs(), 99),
                            ours.totalCpuSeconds() / theirs.totalCpuSeconds());
                }
            }
        }
    }
}
