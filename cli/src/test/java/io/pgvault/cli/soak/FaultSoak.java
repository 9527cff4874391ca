package io.pgvault.cli.soak;

import io.pgvault.cli.RecoverySupport;
import io.pgvault.core.archive.WalSource;
import io.pgvault.core.storage.s3.S3Store;
import io.pgvault.core.util.Sha256;
import io.pgvault.core.wal.WalFileName;
import io.pgvault.core.wal.WalSegmentSize;
import io.pgvault.testkit.FaultyBlobStore;
import io.pgvault.testkit.Fixtures;
import io.pgvault.testkit.PgCluster;
import io.pgvault.testkit.S3ProxyFixture;
import io.pgvault.testkit.ServerProcess;
import io.pgvault.testkit.TcpRelay;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.DigestInputStream;
import java.security.MessageDigest;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.TreeSet;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The fault soak of issue #22. Three real PostgreSQL clusters (16, 1 and 64 MiB segments;
 * the first streamed too) archive through one pgvault server into an S3 bucket (S3Proxy,
 * reached through a relay) under pgbench, while an injector, seeded and logged, kills the
 * server with SIGKILL, cuts and slows the bucket's connection, makes the store answer 503,
 * 500 or too late, and fills the spool disk; meanwhile restores run through the server
 * ({@code wal-fetch --server}, {@code recover --server}). At the end, with every fault
 * healed and every archiver idle: each file PostgreSQL saw acknowledged is in the bucket,
 * byte-identical; a recovery to latest of each cluster from the bucket alone has exactly
 * its committed rows; the server left no spool or temporary file; its heap stayed within
 * its -Xmx and it never ran out of memory. {@code target/soak-summary.txt} holds the figures.
 *
 * <p>Not part of the default test run (the name matches neither {@code *Test} nor
 * {@code *IT}): {@code mvn -B -Psoak -pl cli -am verify -Dpgvault.soak.duration=10m
 * [-Dpgvault.soak.seed=N]}, or {@code bench/run-fault-soak.sh}. Runs as root (the spool's
 * tmpfs; PostgreSQL as the unprivileged user), with pgbench and curl installed.
 */
class FaultSoak {

    private static final String BUCKET = "soak";
    private static final String PREFIX = "pgvault";
    /** The spool's disk: room for a few segments and backup pieces in flight, small enough to fill at once. */
    private static final long SPOOL_BYTES = 96L << 20;
    /** pgbench transactions a second on each cluster: WAL keeps flowing while two cores cope. */
    private static final int PGBENCH_RATE = 20;
    /** Segment sizes of the clusters; the first is streamed too. */
    private static final int[] SEGMENT_MB = {16, 1, 64};
    private static final Duration STORE_LATE_BY = Duration.ofSeconds(35);

    private final java.net.http.HttpClient http = java.net.http.HttpClient.newHttpClient();
    private final SoakReport report = new SoakReport();
    private final List<SoakCluster> clusters = new ArrayList<>();
    private final List<String> backups = new ArrayList<>();
    private SoakOptions options;
    private SoakLog log;
    private Path dir;
    private S3ProxyFixture s3;
    private TcpRelay bucket;
    private FaultyBlobStore store;
    private SpoolDisk spool;
    private SoakServer server;

    @Test
    void nothingAcknowledgedIsLostWhileTheServerAndItsBucketFail() throws Exception {
        options = SoakOptions.fromSystemProperties();
        log = new SoakLog(Path.of("target", "soak-events.log"));
        log.event("fault soak for " + human(options.duration()) + ", seed " + options.seed() + " (the same faults again: -Dpgvault.soak.seed="
                + options.seed() + ")");
        dir = RecoverySupport.workDirectory("pgvault-soak-");
        boolean finished = false;
        try {
            AtomicReference<FaultyBlobStore> faulty = new AtomicReference<>();
            try (S3ProxyFixture s3 = S3ProxyFixture.builder().onDisk(Files.createDirectories(dir.resolve("bucket")))
                    .servedThrough(b -> {
                        faulty.set(new FaultyBlobStore(b));
                        return faulty.get();
                    }).start();
                 TcpRelay bucket = TcpRelay.adjustable("127.0.0.1", s3.endpoint().getPort())) {
                this.s3 = s3;
                this.bucket = bucket;
                this.store = faulty.get();
                store.lateBy(STORE_LATE_BY);
                s3.createBucket(BUCKET);
                Map<String, String> properties = serverProperties();
                try (SpoolDisk spool = SpoolDisk.prepare(dir.resolve("server/spool"), SPOOL_BYTES, properties);
                     SoakServer server = new SoakServer(properties, dir.resolve("server.log"), log::event)) {
                    this.spool = spool;
                    this.server = server;
                    log.event("spool: " + spool.describe());
                    server.start();
                    try {
                        setUpClusters();
                        soakAndVerify();
                    } finally {
                        closeClusters();
                    }
                }
            }
            finished = true;
        } catch (Exception | Error e) {
            report.problem("the soak stopped early: " + e);
            throw e;
        } finally {
            report.writeTo(Path.of("target", "soak-summary.txt"));
            System.out.println(report.render());
            Path serverLog = dir.resolve("server.log");
            if (Files.exists(serverLog)) {
                Files.copy(serverLog, Path.of("target", "soak-server.log"), StandardCopyOption.REPLACE_EXISTING);
            }
            if (finished && report.problems().isEmpty()) {
                Fixtures.deleteTree(dir);
            } else {
                log.event("kept " + dir + " for a look (acknowledged logs, bucket, server data); delete it when done");
            }
        }
        assertThat(report.problems()).as("see target/soak-summary.txt and target/soak-events.log").isEmpty();
    }

    /** Stops every cluster, even when one of them fails to stop. */
    private void closeClusters() {
        for (SoakCluster c : clusters) {
            try {
                c.close();
            } catch (Exception | Error e) {
                report.problem("could not stop " + c.name() + ": " + e);
            }
        }
    }

    private Map<String, String> serverProperties() throws IOException {
        Path tmp = Files.createDirectories(dir.resolve("server-tmp"));
        Map<String, String> p = new HashMap<>();
        p.put("pgvault.data-dir", dir.resolve("server").toString());
        p.put("pgvault.repository.url", "s3://" + BUCKET + "/" + PREFIX);
        p.put("pgvault.repository.s3.endpoint", "http://127.0.0.1:" + bucket.port());
        p.put("pgvault.repository.s3.path-style", "true");
        p.put("pgvault.repository.s3.access-key", S3ProxyFixture.ACCESS_KEY);
        p.put("pgvault.repository.s3.secret-key", S3ProxyFixture.SECRET_KEY);
        p.put("pgvault.backup.piece-size", "16MB");
        p.put("pgvault.streaming.retry-min", "200ms");
        p.put("pgvault.streaming.retry-max", "5s");
        // Its own temporary directory, so what the server leaves there can be told apart.
        p.put("java.io.tmpdir", tmp.toString());
        // The CLI's test classpath logs through slf4j-simple, not logback.
        p.put("micronaut.metrics.binders.logback.enabled", "false");
        return p;
    }

    /** Starts, registers and loads the clusters, and takes a first backup of each before any fault. */
    private void setUpClusters() throws Exception {
        Path script = SoakCluster.writePushScript(dir);
        List<Integer> majors = Fixtures.testMajors();
        for (int i = 0; i < SEGMENT_MB.length; i++) {
            SoakCluster c = SoakCluster.start("seg" + SEGMENT_MB[i], majors.get(i % majors.size()), SEGMENT_MB[i], i == 0, dir, script, server.url());
            clusters.add(c);
            c.register(http, server.url());
            c.prepare();
            log.event("cluster " + c.describe() + " archiving");
        }
        for (SoakCluster c : clusters) {
            assertThat(backup(c, "before the faults")).as("the first backup of " + c.name()).isZero();
        }
    }

    /** Runs {@code pgvault backup --wait} and notes how it went; returns its exit code. */
    private int backup(SoakCluster c, String when) {
        long start = System.currentTimeMillis();
        RecoverySupport.Run run = RecoverySupport.pgvault(dir, List.of("backup", c.name(), "--wait", "--server", server.url()));
        long end = System.currentTimeMillis();
        String outcome = "backup of " + c.name() + " " + when + ": exit " + run.exit() + " after " + seconds(end - start);
        backups.add(outcome + "|" + start + "|" + end + "|" + run.exit());
        log.event(outcome + (run.exit() == 0 ? "" : "\n" + run.output().strip()));
        return run.exit();
    }

    /** Every kind of fault, each held briefly enough that a 10-minute run meets every kind two or three times. */
    private Map<FaultKind, Fault> faults() {
        Map<FaultKind, Fault> faults = new EnumMap<>(FaultKind.class);
        faults.put(FaultKind.SERVER_KILLED, Fault.of(1, 5, Duration.ofSeconds(2), r -> {
            long pid = server.pid();
            server.kill();
            return "pid " + pid + " killed, started again after the hold";
        }, server::start));
        faults.put(FaultKind.BUCKET_CUT, Fault.of(5, 20, Duration.ofSeconds(2), r -> {
            bucket.cut();
            return "open connections reset, new ones refused";
        }, bucket::restore));
        faults.put(FaultKind.BUCKET_SLOW, Fault.of(10, 30, Duration.ofSeconds(5), r -> {
            int millis = 200 + 100 * r.nextInt(7);
            bucket.delay(Duration.ofMillis(millis));
            return "one-way delay " + millis + " ms";
        }, () -> bucket.delay(Duration.ZERO)));
        faults.put(FaultKind.STORE_503, storeFault(FaultyBlobStore.Mode.UNAVAILABLE, 5, 20, Duration.ofSeconds(2), "every request answered 503"));
        faults.put(FaultKind.STORE_500, storeFault(FaultyBlobStore.Mode.INTERNAL_ERROR, 5, 20, Duration.ofSeconds(2), "every request answered 500"));
        faults.put(FaultKind.STORE_LATE, storeFault(FaultyBlobStore.Mode.LATE, 10, 20, STORE_LATE_BY.plusSeconds(5),
                "every request answered after " + STORE_LATE_BY.toSeconds() + " s (writes done, answers late)"));
        faults.put(FaultKind.SPOOL_FULL, Fault.of(10, 20, Duration.ofSeconds(2), r -> spool.fill(), spool::drain));
        return faults;
    }

    private Fault storeFault(FaultyBlobStore.Mode mode, int min, int max, Duration aftermath, String what) {
        return Fault.of(min, max, aftermath, r -> {
            store.mode(mode);
            return what;
        }, () -> store.mode(FaultyBlobStore.Mode.HEALTHY));
    }

    /** The soak itself, then the verdict. */
    private void soakAndVerify() throws Exception {
        Duration duration = options.duration();
        Instant loadStart = Instant.now();
        Instant end = loadStart.plus(duration);
        for (SoakCluster c : clusters) {
            c.startLoad(PGBENCH_RATE, duration.plusMinutes(5));
        }
        List<Instant> recoverAt = List.of(loadStart.plus(duration.dividedBy(3)), loadStart.plus(duration.dividedBy(3).multipliedBy(2)));
        Path scratch = Files.createDirectories(dir.resolve("restores"));
        Map<String, String> committed = new LinkedHashMap<>();
        try (HeapWatch heap = new HeapWatch(server)) {
            FaultInjector injector = new FaultInjector(options.seed(), faults(), log::event);
            RestoreWorker restores = new RestoreWorker(clusters, server.url(), scratch, options.seed() + 1, recoverAt, log::event);
            try {
                injector.start();
                restores.start();
                // Backups under faults: at half-time, and every 30 minutes in a long run.
                Duration backupEvery = duration.dividedBy(2).compareTo(Duration.ofMinutes(30)) < 0 ? duration.dividedBy(2) : Duration.ofMinutes(30);
                Instant nextBackup = loadStart.plus(backupEvery);
                while (Instant.now().isBefore(end)) {
                    Instant wake = nextBackup.isBefore(end) ? nextBackup : end;
                    Thread.sleep(Math.max(0, Duration.between(Instant.now(), wake).toMillis()));
                    if (!Instant.now().isBefore(nextBackup) && Instant.now().isBefore(end)) {
                        for (SoakCluster c : clusters) {
                            backup(c, "under faults");
                        }
                        nextBackup = nextBackup.plus(backupEvery);
                    }
                }
            } finally {
                restores.close();
                injector.close();
            }
            Instant loadEnd = Instant.now();
            log.event("faults over: " + injector.windows().size() + " injected; draining");
            for (SoakCluster c : clusters) {
                c.stopLoad();
            }
            server.ensureUp();
            for (SoakCluster c : clusters) {
                committed.put(c.name(), c.checksum());
            }
            Instant drainStart = Instant.now();
            for (SoakCluster c : clusters) {
                try {
                    log.event(c.name() + ": archived up to " + c.awaitAllArchived(Duration.ofMinutes(5)) + ", nothing left to ship");
                } catch (AssertionError e) {
                    report.problem(e.getMessage());
                }
            }
            Duration drain = Duration.between(drainStart, Instant.now());

            describeRun(loadStart, loadEnd, drain, injector);
            describePushesAndRestores(loadStart, loadEnd, injector.windows(), restores);
            verifyBucket();
            verifyNothingLeftBehind();
            heap.sample();
            verifyHeap(heap);
        }
        // From here on the bucket alone.
        server.close();
        verifyRecoveryToLatest(committed);
    }

    private void describeRun(Instant loadStart, Instant loadEnd, Duration drain, FaultInjector injector) {
        report.line("pgvault fault soak (issue #22), seed " + options.seed() + " (-Dpgvault.soak.seed=" + options.seed() + " replays its faults)");
        report.line("duration: " + human(Duration.between(loadStart, loadEnd)) + " of load and faults (asked: " + human(options.duration())
                + "), then " + human(drain) + " until every archiver was idle");
        report.line("clusters: " + clusters.stream().map(SoakCluster::describe).collect(Collectors.joining("; "))
                + "; pgbench -R " + PGBENCH_RATE + " and a row committed every 200 ms on each");
        report.line("server: own JVM, -Xmx" + (ServerProcess.HEAP_BYTES >> 20) + "m, repository s3://" + BUCKET + "/" + PREFIX
                + " (S3Proxy on disk, through a relay); spool: " + spool.describe());
        List<FaultWindow> windows = injector.windows();
        Duration under = windows.stream().map(FaultWindow::length).reduce(Duration.ZERO, Duration::plus);
        report.line("faults injected: " + windows.size() + ", " + human(under) + " under faults in all");
        injector.countsByKind().forEach((kind, count) -> report.line(String.format(Locale.ROOT, "  %-14s %3d  %s", kind, count, kind.description())));
        report.line(String.format(Locale.ROOT, "  store requests faulted: %d answered 503, %d answered 500, %d answered late; server SIGKILLs: %d",
                store.faulted(FaultyBlobStore.Mode.UNAVAILABLE), store.faulted(FaultyBlobStore.Mode.INTERNAL_ERROR),
                store.faulted(FaultyBlobStore.Mode.LATE), server.kills()));
        for (Throwable e : injector.errors()) {
            report.problem("injector: " + e.getMessage());
        }
    }

    private void describePushesAndRestores(Instant loadStart, Instant loadEnd, List<FaultWindow> windows, RestoreWorker restores) throws IOException {
        long from = loadStart.toEpochMilli();
        long to = loadEnd.toEpochMilli();
        List<Push> all = new ArrayList<>();
        for (SoakCluster c : clusters) {
            c.pushes().stream().filter(p -> p.startMillis() >= from && p.startMillis() <= to).forEach(all::add);
        }
        PushFigures pushes = new PushFigures(all, windows);
        double[] pushRates = pushes.ratesHeld(from, to);
        report.line(String.format(Locale.ROOT, "pushes (archive_command, curl) during the soak: %d acknowledged, %.2f/s held%s; %d failed attempts,"
                        + " each retried by PostgreSQL, by HTTP status %s", pushes.succeeded(), pushRates[0], slowest(pushRates[1]),
                all.size() - pushes.succeeded(), pushes.failuresByStatus()));
        report.line("  failed attempts by the fault they met: " + pushes.failuresByFault());
        pushes.longest().ifPresent(p -> report.line(String.format(Locale.ROOT, "  longest attempt: %s %s, %.1f s, HTTP %03d%s", p.cluster(), p.file(),
                p.millis() / 1000, p.status(), pushes.metFault(p) ? " (met a fault)" : "")));
        report.line("  push latency, ms, p50 / p99 (pushes)   outside faults        inside faults (or their aftermath)");
        for (SoakCluster c : clusters) {
            report.line(String.format(Locale.ROOT, "  %-8s %2d MiB segments            %-20s  %s", c.name(), c.segmentMb(),
                    pushes.latency(c.name(), false), pushes.latency(c.name(), true)));
        }
        report.line(String.format(Locale.ROOT, "  %-8s                           %-20s  %s", "all", pushes.latency(null, false), pushes.latency(null, true)));
        List<Push> oddPushes = pushes.failuresOutsideFaults();
        for (Push p : oddPushes.subList(0, Math.min(10, oddPushes.size()))) {
            report.odd("push of " + p.cluster() + "/" + p.file() + " failed (HTTP " + String.format(Locale.ROOT, "%03d", p.status())
                    + ") with no fault around it; the server said: " + serverSaid(p));
        }
        if (oddPushes.size() > 10) {
            report.odd((oddPushes.size() - 10) + " more pushes failed with no fault around them");
        }

        List<RestoreWorker.Fetch> fetches = restores.fetches();
        List<Long> okTimes = fetches.stream().filter(f -> f.exit() == 0).map(RestoreWorker.Fetch::endMillis).toList();
        double[] fetchRates = PushFigures.rates(okTimes, from, to);
        long failedInside = fetches.stream().filter(f -> f.exit() != 0 && touches(windows, f.startMillis(), f.endMillis())).count();
        List<RestoreWorker.Fetch> failedOutside = fetches.stream().filter(f -> f.exit() != 0 && !touches(windows, f.startMillis(), f.endMillis())).toList();
        List<RestoreWorker.Fetch> wrong = fetches.stream().filter(f -> f.exit() == 0 && !f.sameBytes()).toList();
        report.line(String.format(Locale.ROOT, "fetches (wal-fetch --server): %d, %d restored (%.2f/s held%s), failed: %d inside faults, %d outside; wrong bytes: %d",
                fetches.size(), okTimes.size(), fetchRates[0], slowest(fetchRates[1]), failedInside, failedOutside.size(), wrong.size()));
        if (!failedOutside.isEmpty()) {
            RestoreWorker.Fetch f = failedOutside.get(0);
            report.odd(failedOutside.size() + " wal-fetch --server failed with no fault around them, e.g. " + f.cluster() + "/" + f.file()
                    + " exit " + f.exit() + ": " + f.output());
        }
        wrong.forEach(f -> report.problem("wal-fetch --server served other bytes than archived: " + f.cluster() + "/" + f.file()));
        for (RestoreWorker.Recovery r : restores.recoveries()) {
            boolean inFault = touches(windows, r.startMillis(), r.endMillis());
            report.line("recover --server of " + r.cluster() + " during the soak: exit " + r.exit() + " after " + seconds(r.endMillis() - r.startMillis())
                    + (inFault ? " (met a fault)" : ""));
            if (r.exit() != 0 && !inFault) {
                report.odd("recover --server of " + r.cluster() + " failed with no fault around it: " + r.output());
            }
        }
        for (String b : backups) {
            String[] f = b.split("\\|");
            boolean inFault = touches(windows, Long.parseLong(f[1]), Long.parseLong(f[2]));
            report.line(f[0] + (inFault ? " (met a fault)" : ""));
            if (!"0".equals(f[3]) && !inFault) {
                report.odd(f[0] + ", with no fault around it");
            }
        }
        for (SoakCluster c : clusters) {
            if (!c.writerErrors().isEmpty()) {
                report.problem(c.name() + ": the load failed " + c.writerErrors().size() + " time(s), e.g. " + c.writerErrors().get(0));
            }
        }
    }

    /** The server's log line about the refused push closest in time to {@code push}, for the report. */
    private String serverSaid(Push push) {
        String path = "PUT /v1/clusters/" + push.cluster() + "/wal/" + push.file() + " -> ";
        try (Stream<String> lines = Files.lines(server.log())) {
            return lines.filter(l -> l.contains(path))
                    .min(java.util.Comparator.comparingLong(l -> Math.abs(logMillis(l) - push.endMillis())))
                    .map(l -> l.substring(l.indexOf(path)))
                    .orElse("(nothing in its log)");
        } catch (IOException | java.io.UncheckedIOException e) {
            return "(cannot read its log: " + e.getMessage() + ")";
        }
    }

    /** When a server log line was written ("2026-12-04 15:54:47.308Z ..."), UTC. */
    private static long logMillis(String line) {
        try {
            return java.time.LocalDateTime.parse(line.substring(0, 23).replace(' ', 'T')).toInstant(java.time.ZoneOffset.UTC).toEpochMilli();
        } catch (RuntimeException notATimestamp) {
            return Long.MAX_VALUE / 2;
        }
    }

    private static boolean touches(List<FaultWindow> windows, long from, long to) {
        return windows.stream().anyMatch(w -> w.touches(from, to));
    }

    /** Every file PostgreSQL saw acknowledged is in the bucket, read from it directly (not through the server), with the same bytes. */
    private void verifyBucket() throws IOException {
        int acked = 0;
        int identical = 0;
        List<String> lost = new ArrayList<>();
        try (S3Store direct = new S3Store(s3.settings(BUCKET, PREFIX))) {
            for (SoakCluster c : clusters) {
                // Not closed: closing a WalSource closes the store.
                WalSource source = new WalSource(direct, c.name(), false);
                Map<String, String> files = c.acknowledged();
                for (Map.Entry<String, String> e : files.entrySet()) {
                    acked++;
                    try {
                        Optional<InputStream> stored = source.open(WalFileName.parse(e.getKey()));
                        if (stored.isEmpty()) {
                            lost.add(c.name() + "/" + e.getKey() + " is not in the bucket");
                            continue;
                        }
                        MessageDigest sha = Sha256.newDigest();
                        try (InputStream in = new DigestInputStream(stored.get(), sha)) {
                            in.transferTo(java.io.OutputStream.nullOutputStream());
                        }
                        if (Sha256.hex(sha).equals(e.getValue())) {
                            identical++;
                        } else {
                            lost.add(c.name() + "/" + e.getKey() + " differs in the bucket");
                        }
                    } catch (IOException | RuntimeException damaged) {
                        lost.add(c.name() + "/" + e.getKey() + " cannot be read whole from the bucket: " + damaged.getMessage());
                    }
                }
                checkContiguous(c, files.keySet());
            }
        }
        report.line("bucket: " + identical + " of " + acked + " acknowledged files present and byte-identical; lost: " + lost.size());
        lost.forEach(l -> report.problem("LOST: " + l));
    }

    /** PostgreSQL archives segments in order: the acknowledged ones of a timeline have no gap (else the log itself lost one). */
    private void checkContiguous(SoakCluster c, java.util.Set<String> files) {
        WalSegmentSize size = WalSegmentSize.ofMegabytes(c.segmentMb());
        TreeSet<Long> numbers = new TreeSet<>();
        for (String f : files) {
            WalFileName name = WalFileName.parse(f);
            if (name.kind() == WalFileName.Kind.SEGMENT) {
                numbers.add(name.segmentNumber(size));
            }
        }
        if (!numbers.isEmpty() && numbers.last() - numbers.first() + 1 != numbers.size()) {
            report.problem(c.name() + ": the acknowledged segments have gaps (" + numbers.size() + " segments from " + numbers.first()
                    + " to " + numbers.last() + ")");
        }
    }

    /** No spool file once everything is archived (in-flight files get half a minute to go), and no pgvault temporary file. */
    private void verifyNothingLeftBehind() throws IOException, InterruptedException {
        List<Path> left = spool.leftovers();
        for (int i = 0; i < 60 && !left.isEmpty(); i++) {
            Thread.sleep(500);
            left = spool.leftovers();
        }
        List<String> temp;
        try (Stream<Path> files = Files.list(dir.resolve("server-tmp"))) {
            temp = files.map(p -> p.getFileName().toString()).sorted().toList();
        }
        List<String> ours = temp.stream().filter(n -> n.startsWith("pgvault")).toList();
        List<String> others = temp.stream().filter(n -> !n.startsWith("pgvault")).toList();
        report.line("left behind: spool " + (left.isEmpty() ? "empty" : left.size() + " file(s)") + "; pgvault temporary files "
                + (ours.isEmpty() ? "none" : ours.size()) + (others.isEmpty() ? "" : "; other files in the server's temporary directory: " + others));
        if (!left.isEmpty()) {
            report.problem("files left in the spool: " + left.stream().map(p -> p.getFileName().toString()).toList());
        }
        if (!ours.isEmpty()) {
            report.problem("pgvault temporary files left: " + ours);
        }
    }

    private void verifyHeap(HeapWatch heap) throws IOException {
        String serverLog = Files.readString(server.log());
        boolean oom = serverLog.contains("OutOfMemoryError");
        report.line(String.format(Locale.ROOT, "heap: peak in use %d MiB of %d MiB (-Xmx), peak live data after a major GC %d MiB (%d samples);"
                        + " OutOfMemoryError: %s; exits nobody asked for: %d", heap.peakUsed() >> 20, ServerProcess.HEAP_BYTES >> 20,
                heap.peakLive() >> 20, heap.samples(), oom ? "YES" : "none", server.unexpectedExits().size()));
        if (oom) {
            report.problem("OutOfMemoryError in the server log");
        }
        if (heap.peakUsed() > ServerProcess.HEAP_BYTES) {
            report.problem("heap in use went past the budget: " + (heap.peakUsed() >> 20) + " MiB");
        }
        if (heap.samples() == 0) {
            report.problem("the heap was never sampled (/prometheus did not answer)");
        }
        server.unexpectedExits().forEach(e -> report.problem("server: " + e));
    }

    /** A recovery to latest of each cluster from the bucket alone (no server) has exactly the rows the primary committed. */
    private void verifyRecoveryToLatest(Map<String, String> committed) {
        for (SoakCluster c : clusters) {
            long start = System.currentTimeMillis();
            String expected = committed.get(c.name());
            if (c.writerErrors().isEmpty() && Integer.parseInt(expected.split(":")[0]) != c.committed()) {
                report.problem(c.name() + ": the primary holds " + expected.split(":")[0] + " rows, the writer committed " + c.committed());
            }
            try (PgCluster restored = PgCluster.builder(c.pg().major()).setting("archive_mode", "off").adopt(data -> {
                RecoverySupport.Run run = RecoverySupport.pgvault(dir, List.of("recover", "--repo", "s3://" + BUCKET + "/" + PREFIX,
                        "--s3-endpoint", s3.endpoint().toString(), "--s3-path-style", "--s3-access-key", S3ProxyFixture.ACCESS_KEY,
                        "--s3-secret-key", S3ProxyFixture.SECRET_KEY, "--cluster", c.name(), "--pgdata", data.toString(), "--target-action", "promote"));
                if (run.exit() != 0) {
                    throw new IllegalStateException("recover exited " + run.exit() + ":\n" + run.output());
                }
            })) {
                restored.start();
                restored.awaitRecoveryEnd(Duration.ofMinutes(15));
                String got = restored.queryValue(RecoverySupport.CHECKSUM);
                String verdict = got.equals(expected) ? "= the primary's" : "!= the primary's " + expected;
                report.line("PITR to latest of " + c.name() + " from the bucket alone: " + got.split(":")[0] + " rows, " + verdict + " ("
                        + c.committed() + " committed by the writer), " + seconds(System.currentTimeMillis() - start));
                if (!got.equals(expected)) {
                    report.problem("PITR of " + c.name() + ": rows " + got + ", committed " + expected);
                }
            } catch (RuntimeException e) {
                report.problem("PITR of " + c.name() + " failed: " + e.getMessage());
            }
        }
    }

    private static String slowest(double perSecond) {
        return perSecond < 0 ? "" : String.format(Locale.ROOT, ", slowest minute %.2f/s", perSecond);
    }

    private static String seconds(long millis) {
        return String.format(Locale.ROOT, "%.1f s", millis / 1000.0);
    }

    private static String human(Duration d) {
        long s = d.toSeconds();
        return s >= 3600 ? String.format(Locale.ROOT, "%dh%02dm%02ds", s / 3600, s / 60 % 60, s % 60)
                : String.format(Locale.ROOT, "%dm%02ds", s / 60, s % 60);
    }
}
