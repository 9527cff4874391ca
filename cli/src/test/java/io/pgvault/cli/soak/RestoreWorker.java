package io.pgvault.cli.soak;

import io.pgvault.cli.RecoverySupport;
import io.pgvault.core.util.Sha256;
import io.pgvault.testkit.Fixtures;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;

/**
 * Restores while the faults go on, as a DBA or a standby would, through the server: one
 * {@code pgvault wal-fetch --server} after another of a segment PostgreSQL saw acknowledged
 * (its bytes checked against the acknowledged SHA-256), and at the given times a whole
 * {@code pgvault recover --server} of one cluster into a scratch directory. Failures while
 * a fault is on are expected and counted; wrong bytes never are.
 */
final class RestoreWorker implements AutoCloseable {

    /** One wal-fetch: exit 0 with {@code sameBytes} false means the server served other bytes than were archived. */
    record Fetch(String cluster, String file, long startMillis, long endMillis, int exit, boolean sameBytes, String output) {
    }

    record Recovery(String cluster, long startMillis, long endMillis, int exit, String output) {
    }

    private static final java.util.regex.Pattern SEGMENT = java.util.regex.Pattern.compile("[0-9A-F]{24}");

    private final List<SoakCluster> clusters;
    private final String serverUrl;
    private final Path scratch;
    private final Random random;
    private final Deque<Instant> recoverAt;
    private final Consumer<String> log;
    private final List<Fetch> fetches = new CopyOnWriteArrayList<>();
    private final List<Recovery> recoveries = new CopyOnWriteArrayList<>();
    private final Thread thread;
    private volatile boolean stopping;

    RestoreWorker(List<SoakCluster> clusters, String serverUrl, Path scratch, long seed, List<Instant> recoverAt, Consumer<String> log) {
        this.clusters = List.copyOf(clusters);
        this.serverUrl = serverUrl;
        this.scratch = scratch;
        this.random = new Random(seed);
        this.recoverAt = new ArrayDeque<>(recoverAt);
        this.log = log;
        this.thread = new Thread(this::run, "soak-restore-worker");
        this.thread.setDaemon(true);
    }

    void start() {
        thread.start();
    }

    private void run() {
        int recovery = 0;
        while (!stopping) {
            try {
                if (!recoverAt.isEmpty() && Instant.now().isAfter(recoverAt.peekFirst())) {
                    recoverAt.removeFirst();
                    recover(clusters.get(random.nextInt(clusters.size())), scratch.resolve("recover-" + ++recovery));
                } else {
                    fetchOne();
                }
                Thread.sleep(1000 + random.nextInt(2000));
            } catch (InterruptedException e) {
                return;
            } catch (IOException | RuntimeException e) {
                log.accept("restore worker: " + e);
            }
        }
    }

    private void fetchOne() throws IOException {
        SoakCluster cluster = clusters.get(random.nextInt(clusters.size()));
        List<Map.Entry<String, String>> segments = new ArrayList<>();
        for (Map.Entry<String, String> e : cluster.acknowledged().entrySet()) {
            if (SEGMENT.matcher(e.getKey()).matches()) {
                segments.add(e);
            }
        }
        if (segments.isEmpty()) {
            return;
        }
        Map.Entry<String, String> pick = segments.get(random.nextInt(segments.size()));
        Path target = scratch.resolve("fetched");
        Files.deleteIfExists(target);
        long start = System.currentTimeMillis();
        RecoverySupport.Run run = RecoverySupport.pgvault(scratch, List.of("wal-fetch", "--server", serverUrl, "--cluster", cluster.name(),
                "--retry-for", "30", pick.getKey(), target.toString()));
        long end = System.currentTimeMillis();
        boolean same = run.exit() == 0 && Files.exists(target) && Sha256.ofFile(target).equals(pick.getValue());
        fetches.add(new Fetch(cluster.name(), pick.getKey(), start, end, run.exit(), same, run.output().strip()));
        if (run.exit() == 0 && !same) {
            log.accept("WRONG BYTES: wal-fetch --server of " + cluster.name() + "/" + pick.getKey() + " exited 0 with other content than archived");
        }
        Files.deleteIfExists(target);
    }

    private void recover(SoakCluster cluster, Path pgdata) {
        log.accept("restore worker: recover --server of " + cluster.name() + " begins");
        long start = System.currentTimeMillis();
        RecoverySupport.Run run = RecoverySupport.pgvault(scratch, List.of("recover", "--server", serverUrl, "--cluster", cluster.name(),
                "--pgdata", pgdata.toString()));
        long end = System.currentTimeMillis();
        recoveries.add(new Recovery(cluster.name(), start, end, run.exit(), lastLines(run.output(), 5)));
        log.accept("restore worker: recover --server of " + cluster.name() + " exited " + run.exit() + " after " + (end - start) / 1000.0 + " s"
                + (run.exit() == 0 ? "" : ":\n" + lastLines(run.output(), 5)));
        Fixtures.deleteTree(pgdata);
    }

    private static String lastLines(String text, int n) {
        String[] lines = text.strip().split("\n");
        return String.join("\n", java.util.Arrays.copyOfRange(lines, Math.max(0, lines.length - n), lines.length));
    }

    List<Fetch> fetches() {
        return List.copyOf(fetches);
    }

    List<Recovery> recoveries() {
        return List.copyOf(recoveries);
    }

    /** Stops after the restore in progress (a wal-fetch gives up within its --retry-for and stall guard). */
    @Override
    public void close() throws InterruptedException {
        stopping = true;
        thread.join();
    }
}
