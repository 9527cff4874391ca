package io.pgvault.bench;

import static io.pgvault.bench.BenchSupport.*;

import io.pgvault.core.util.Sha256;
import io.pgvault.testkit.Fixtures;
import io.pgvault.testkit.OsUser;
import io.pgvault.testkit.PgCluster;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Many restores at once from a server with a small heap: one GET per 64 MiB segment, all in
 * parallel ({@code curl -fsS -o}, as restore_command would), a few rounds, every body checked
 * against its source's SHA-256; and the same segments by as many parallel
 * {@code pgbackrest archive-get} from its repository. A 64 MiB segment is the largest the
 * server reads whole before answering; its fetch buffer (a quarter of the heap) has room for
 * one of them at a time in 256 MiB, so the rest must stream rather than fail.
 */
final class RestoreStorm {

    /** @param cpuSeconds the server's CPU and the callers' (curl; all of pgBackRest) */
    record Figures(String tool, int round, ParallelCallers.Outcome outcome, long rawBytes, int mismatches, double cpuSeconds,
            ServerMemory.Peaks memory) {
    }

    private RestoreStorm() {
    }

    static void run(Path work, Path serverJar, int major, String heap, String[] args) throws Exception {
        int segments = intArg(args, "--restore-segments", 16);
        int rounds = intArg(args, "--restore-rounds", 3);
        Path corpus = Files.createDirectories(work.resolve("corpus-64"));
        OsUser.own(corpus);
        List<Figures> results = new ArrayList<>();
        try (PgCluster pg = PgCluster.builder(major)
                .walSegmentSizeMb(64)
                .setting("archive_mode", "on")
                .setting("archive_command", "cp %p " + corpus + "/%f")
                .setting("max_wal_size", "2GB")
                .start()) {
            List<Path> files = pgbenchWalCorpus(pg, corpus, intArg(args, "--restore-scale", 70), intArg(args, "--seconds", 10), segments);
            long raw = totalSize(files);
            System.out.printf(Locale.ROOT, "%nRestore corpus: %d segments of 64 MiB, %.0f MiB of pgbench WAL%n", files.size(), raw / MIB);
            Map<String, String> sources = new HashMap<>();
            for (Path f : files) {
                sources.put(f.getFileName().toString(), Sha256.ofFile(f));
            }
            results.addAll(pgvault(work, serverJar, heap, files, raw, rounds, sources));
            results.addAll(pgbackrest(work, pg, files, raw, rounds, sources));
        }
        print(results, heap);
    }

    private static List<Figures> pgvault(Path work, Path serverJar, String heap, List<Path> files, long raw, int rounds,
            Map<String, String> sources) throws Exception {
        Path dir = Files.createDirectories(work.resolve("pgvault-restore"));
        int port = Fixtures.freePort();
        String url = "http://127.0.0.1:" + port;
        Process server = startServer(serverJar, dir, port, "zstd", List.of(), heap);
        try {
            registerCluster(url, "{\"name\":\"restore\"}");
            ParallelCallers.run(work.resolve("rounds/restore-pgvault-push"), files, 1, ArchiveLoadBench.curlPush(url, "restore"), null);
            String get = "call() { curl -fsS -o \"$OUT/${1##*/}\" \"" + url + "/v1/clusters/restore/wal/${1##*/}\"; }\n";
            List<Figures> results = new ArrayList<>();
            try (ServerMemory memory = ServerMemory.watch(server.pid())) {
                for (int round = 1; round <= rounds; round++) {
                    results.add(round("pgvault curl GET", round, work, files, raw, get, sources, server.pid(), memory));
                }
            }
            long oom = Files.readAllLines(dir.resolve("server.log")).stream().filter(l -> l.contains("OutOfMemoryError")).count();
            System.out.printf(Locale.ROOT, "pgvault server log: %d lines about OutOfMemoryError%n", oom);
            return results;
        } finally {
            server.destroy();
            server.waitFor(30, TimeUnit.SECONDS);
        }
    }

    private static List<Figures> pgbackrest(Path work, PgCluster pg, List<Path> files, long raw, int rounds, Map<String, String> sources)
            throws Exception {
        Path dir = Files.createDirectories(work.resolve("pgbackrest-restore"));
        Path conf = pgbackrestStanza(dir, pg, "restore", 3);
        String command = "pgbackrest --config=" + conf + " --stanza=restore";
        ParallelCallers.run(work.resolve("rounds/restore-pgbackrest-push"), files, 1, "call() { " + command + " archive-push \"$1\"; }", null);
        String get = "call() { " + command + " archive-get \"${1##*/}\" \"$OUT/${1##*/}\"; }\n";
        List<Figures> results = new ArrayList<>();
        for (int round = 1; round <= rounds; round++) {
            results.add(round("pgBackRest archive-get", round, work, files, raw, get, sources, -1, null));
        }
        return results;
    }

    /**
     * One GET per segment, all at once, into a new directory {@code $OUT}; then every body checked and removed.
     *
     * @param serverPid the pgvault server's, whose CPU counts; -1 without a server
     */
    private static Figures round(String tool, int round, Path work, List<Path> files, long raw, String get, Map<String, String> sources,
            long serverPid, ServerMemory memory) throws Exception {
        String name = tool.toLowerCase(Locale.ROOT).replaceAll("[^a-z]+", "-") + round;
        Path out = Files.createDirectories(work.resolve("restored/" + name));
        OsUser.own(out);
        shell("sync");
        if (memory != null) {
            memory.startWindow();
        }
        double serverCpuBefore = serverPid < 0 ? 0 : cpuSeconds(serverPid);
        ParallelCallers.Outcome outcome = ParallelCallers.run(work.resolve("rounds/" + name), files, files.size(),
                "OUT=" + out + "\n" + get, null);
        double serverCpu = serverPid < 0 ? 0 : cpuSeconds(serverPid) - serverCpuBefore;
        ServerMemory.Peaks peaks = memory == null ? null : memory.window();
        int mismatches = 0;
        for (Map.Entry<String, String> source : sources.entrySet()) {
            Path body = out.resolve(source.getKey());
            if (!Files.exists(body) || !Sha256.ofFile(body).equals(source.getValue())) {
                mismatches++;
            }
        }
        Fixtures.deleteTree(out);
        return new Figures(tool, round, outcome, raw, mismatches, serverCpu + outcome.callerCpuSeconds(), peaks);
    }

    private static void print(List<Figures> results, String heap) {
        System.out.printf(Locale.ROOT, "%nOne GET per 64 MiB segment, all in parallel (pgvault -Xmx%s)%n", heap);
        System.out.printf(Locale.ROOT, "%-24s %5s %4s %7s %7s %7s %7s %6s %10s %6s %8s %8s %6s%n", "", "round", "GETs", "wall s", "MiB/s", "p50 ms",
                "p99 ms", "failed", "bad sha256", "CPU s", "heap MiB", "RSS MiB", "GC s");
        for (Figures f : results) {
            ParallelCallers.Outcome o = f.outcome();
            System.out.printf(Locale.ROOT, "%-24s %5d %4d %7.2f %7.1f %7.0f %7.0f %6d %10d %6.2f %s%n", f.tool(), f.round(), o.calls(),
                    o.acknowledgedSeconds(), f.rawBytes() / MIB / o.acknowledgedSeconds(), percentile(o.callMs(), 50), percentile(o.callMs(), 99),
                    o.failures(), f.mismatches(), f.cpuSeconds(), ServerMemory.columns(f.memory()));
        }
        List<Double> ours = results.stream().filter(f -> f.tool().startsWith("pgvault")).map(f -> f.outcome().acknowledgedSeconds()).toList();
        List<Double> theirs = results.stream().filter(f -> !f.tool().startsWith("pgvault")).map(f -> f.outcome().acknowledgedSeconds()).toList();
        System.out.printf(Locale.ROOT, "pgvault vs pgBackRest archive-get, median wall of the rounds: %.2f vs %.2f s, %.2fx the throughput%n",
                percentile(ours, 50), percentile(theirs, 50), percentile(theirs, 50) / percentile(ours, 50));
    }
}
