package io.pgvault.bench;

import static io.pgvault.bench.BenchSupport.*;

import io.pgvault.core.compress.Codec;
import io.pgvault.core.compress.Lz4Codec;
import io.pgvault.core.compress.NoCodec;
import io.pgvault.core.compress.ZstdCodec;
import io.pgvault.testkit.OsUser;
import io.pgvault.testkit.PgCluster;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;

/**
 * Codec throughput and ratio on real WAL: a PostgreSQL cluster runs pgbench and archives
 * its segments with cp; then pgvault's codecs (in this JVM, one thread) and the zstd and
 * lz4 command-line tools (one thread) compress and decompress the same files.
 *
 * <p>Usage: {@code java -jar bench/target/pgvault-bench.jar [--major 17] [--scale 20]
 * [--seconds 40] [--max-segments 40]}. Needs pgbench, zstd and lz4 on the PATH.
 */
public final class CodecBench {

    private static final double MIB = BenchSupport.MIB;

    record Corpus(List<byte[]> segments, long rawBytes, Path directory) {
    }

    record Figures(String name, long rawBytes, long compressedBytes, double compressCpuSeconds, double decompressCpuSeconds) {
        double ratio() {
            return (double) rawBytes / compressedBytes;
        }

        double compressMibPerSecond() {
            return rawBytes / MIB / compressCpuSeconds;
        }

        double decompressMibPerSecond() {
            return rawBytes / MIB / decompressCpuSeconds;
        }
    }

    public static void main(String[] args) throws Exception {
        int major = intArg(args, "--major", 17);
        int scale = intArg(args, "--scale", 20);
        int seconds = intArg(args, "--seconds", 40);
        int maxSegments = intArg(args, "--max-segments", 40);

        Corpus corpus = generate(major, scale, seconds, maxSegments);
        System.out.printf(Locale.ROOT, "%nWAL corpus: %d segments, %.0f MiB, from pgbench scale %d, %d s on PostgreSQL %d%n",
                corpus.segments().size(), corpus.rawBytes() / MIB, scale, seconds, major);

        List<Figures> jvm = new ArrayList<>();
        for (Codec codec : List.of(new ZstdCodec(1), new ZstdCodec(3), new Lz4Codec(), new NoCodec())) {
            measureJvm(codec, corpus); // warm-up pass: JIT and native library loading
            jvm.add(measureJvm(codec, corpus));
        }
        List<Figures> cli = List.of(
                measureCli("zstd -1 (CLI)", corpus, "zstd -1 -T1 -q -c", "zstd -d -q -c"),
                measureCli("zstd -3 (CLI)", corpus, "zstd -3 -T1 -q -c", "zstd -d -q -c"),
                measureCli("lz4 -1 (CLI)", corpus, "lz4 -1 -q -c", "lz4 -d -q -c"));

        System.out.println();
        System.out.println("One core each. MiB/s = raw MiB per CPU second (JVM) or per wall second (CLI, single-threaded).");
        System.out.printf(Locale.ROOT, "%-16s %9s %9s %14s %16s%n", "codec", "ratio", "stored %", "compress MiB/s", "decompress MiB/s");
        for (Figures f : jvm) {
            print(f);
        }
        for (Figures f : cli) {
            print(f);
        }
        System.out.println();
        System.out.println("pgvault / command-line tool, same level, same files:");
        ratioLine("zstd 1", jvm.get(0), cli.get(0));
        ratioLine("zstd 3", jvm.get(1), cli.get(1));
        ratioLine("lz4", jvm.get(2), cli.get(2));
        io.pgvault.testkit.Fixtures.deleteTree(corpus.directory());
    }

    private static void print(Figures f) {
        System.out.printf(Locale.ROOT, "%-16s %9.2f %8.1f%% %14.0f %16.0f%n", f.name(), f.ratio(),
                100.0 * f.compressedBytes() / f.rawBytes(), f.compressMibPerSecond(), f.decompressMibPerSecond());
    }

    private static void ratioLine(String name, Figures pgvault, Figures tool) {
        System.out.printf(Locale.ROOT, "  %-8s compress speed x%.2f, decompress speed x%.2f, stored size x%.3f%n", name,
                pgvault.compressMibPerSecond() / tool.compressMibPerSecond(),
                pgvault.decompressMibPerSecond() / tool.decompressMibPerSecond(),
                (double) pgvault.compressedBytes() / tool.compressedBytes());
    }

    static Corpus generate(int major, int scale, int seconds, int maxSegments) throws Exception {
        Path archive = Files.createTempDirectory("pgvault-bench-wal");
        Files.setPosixFilePermissions(archive, java.nio.file.attribute.PosixFilePermissions.fromString("rwxr-xr-x"));
        OsUser.own(archive);
        try (PgCluster pg = copyArchivingPrimary(major, archive)) {
            String conn = "-h 127.0.0.1 -p " + pg.port() + " -U postgres";
            shell("pgbench -i -q -s " + scale + " " + conn + " postgres", false);
            shell("pgbench -T " + seconds + " -c 2 -j 2 " + conn + " postgres", false);
            pg.queryValue("SELECT pg_switch_wal()");
            long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(3);
            while (!"t".equals(pg.queryValue("SELECT last_archived_wal >= pg_walfile_name(pg_current_wal_lsn() - 1) FROM pg_stat_archiver"))
                    && System.nanoTime() < deadline) {
                Thread.sleep(200);
            }
        }
        List<byte[]> segments = new ArrayList<>();
        long raw = 0;
        try (var files = Files.list(archive)) {
            List<Path> sorted = files.filter(p -> p.getFileName().toString().matches("[0-9A-F]{24}")).sorted().toList();
            // Skip the first segments (initdb and pgbench -i bulk load); keep the transactional load.
            int from = Math.max(0, sorted.size() - maxSegments);
            for (Path p : sorted.subList(from, sorted.size())) {
                byte[] bytes = Files.readAllBytes(p);
                segments.add(bytes);
                raw += bytes.length;
            }
            for (Path p : sorted.subList(0, from)) {
                Files.delete(p);
            }
        }
        return new Corpus(segments, raw, archive);
    }

    static Figures measureJvm(Codec codec, Corpus corpus) throws IOException {
        ThreadMXBean threads = ManagementFactory.getThreadMXBean();
        List<byte[]> compressed = new ArrayList<>();
        long stored = 0;
        long start = threads.getCurrentThreadCpuTime();
        for (byte[] segment : corpus.segments()) {
            ByteArrayOutputStream out = new ByteArrayOutputStream(segment.length / 2);
            try (OutputStream c = codec.compress(out)) {
                c.write(segment);
            }
            compressed.add(out.toByteArray());
            stored += out.size();
        }
        long compressNanos = threads.getCurrentThreadCpuTime() - start;
        byte[] buffer = new byte[1 << 16];
        start = threads.getCurrentThreadCpuTime();
        for (byte[] c : compressed) {
            try (InputStream in = codec.decompress(new ByteArrayInputStream(c))) {
                while (in.read(buffer) >= 0) {
                    // discard
                }
            }
        }
        long decompressNanos = threads.getCurrentThreadCpuTime() - start;
        String name = codec instanceof ZstdCodec z ? "pgvault zstd " + z.level() : "pgvault " + codec.id();
        return new Figures(name, corpus.rawBytes(), stored, compressNanos / 1e9, decompressNanos / 1e9);
    }

    static Figures measureCli(String name, Corpus corpus, String compress, String decompress) throws Exception {
        Path dir = corpus.directory();
        Path out = dir.resolve("cli.out");
        // Files are passed through one pipe so process start-up does not count per file.
        double c = shell("cat " + dir + "/0* | " + compress + " > " + out, true);
        long stored = Files.size(out);
        double d = shell(decompress + " " + out + " > /dev/null", true);
        Files.delete(out);
        return new Figures(name, corpus.rawBytes(), stored, c, d);
    }

    /** Runs a shell command; returns its wall time in seconds. */
    private static double shell(String command, boolean quiet) throws Exception {
        long start = System.nanoTime();
        ProcessBuilder pb = new ProcessBuilder("bash", "-c", "set -o pipefail; " + command);
        pb.redirectError(ProcessBuilder.Redirect.INHERIT);
        pb.redirectOutput(quiet ? ProcessBuilder.Redirect.DISCARD : ProcessBuilder.Redirect.INHERIT);
        Process p = pb.start();
        if (p.waitFor() != 0) {
            throw new IllegalStateException("failed (" + p.exitValue() + "): " + command);
        }
        return (System.nanoTime() - start) / 1e9;
    }

}
