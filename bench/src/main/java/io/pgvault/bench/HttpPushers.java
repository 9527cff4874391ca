package io.pgvault.bench;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

/**
 * A fixed pool of WAL pushers in this JVM: each takes the next push of an ordered list and
 * PUTs the segment's bytes to {@code /v1/clusters/NAME/wal/SEGMENT}, retrying after
 * {@code Retry-After} on a 503 as the archiver retries. In-process HTTP clients rather than
 * a curl per push ({@link ParallelCallers}): thousands of pushes of forked curls would take
 * a third of the two cores from the server being measured. Optionally paced: push {@code k}
 * starts no earlier than {@code k / rate} seconds after the first, so two runs can be held to
 * the same total throughput.
 */
final class HttpPushers {

    /** One segment to push to the server at {@code serverUrl} ({@code server} numbers it in the outcome). */
    record Push(int server, String serverUrl, String cluster, Path file) {
    }

    /**
     * @param ms each push's latency (retries included), in the order of the pushes
     * @param servers which server each push went to, in the same order
     */
    record Outcome(int calls, int failures, int retries, double seconds, double[] ms, int[] servers, String firstFailure) {

        double segmentsPerSecond() {
            return calls / seconds;
        }

        /** Latencies in ms of the pushes to {@code server} that succeeded; all servers' when it is negative. */
        List<Double> latencies(int server) {
            List<Double> out = new ArrayList<>();
            for (int i = 0; i < ms.length; i++) {
                if ((server < 0 || servers[i] == server) && !Double.isNaN(ms[i])) {
                    out.add(ms[i]);
                }
            }
            return out;
        }
    }

    private HttpPushers() {
    }

    /** @param rate pushes per second to hold to; 0 for as fast as the pushers go */
    static Outcome run(List<Push> pushes, int pushers, double rate) throws InterruptedException {
        HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(10)).build();
        double[] ms = new double[pushes.size()];
        int[] servers = pushes.stream().mapToInt(Push::server).toArray();
        AtomicInteger next = new AtomicInteger();
        AtomicInteger failures = new AtomicInteger();
        AtomicInteger retries = new AtomicInteger();
        AtomicReference<String> firstFailure = new AtomicReference<>();
        long start = System.nanoTime();
        ExecutorService pool = Executors.newFixedThreadPool(pushers);
        for (int p = 0; p < pushers; p++) {
            pool.execute(() -> {
                for (int k = next.getAndIncrement(); k < pushes.size(); k = next.getAndIncrement()) {
                    try {
                        if (rate > 0) {
                            sleepUntil(start + (long) (k / rate * 1e9));
                        }
                        long t0 = System.nanoTime();
                        retries.addAndGet(push(http, pushes.get(k)));
                        ms[k] = (System.nanoTime() - t0) / 1e6;
                    } catch (Exception e) {
                        failures.incrementAndGet();
                        firstFailure.compareAndSet(null, pushes.get(k).cluster() + "/" + pushes.get(k).file().getFileName() + ": " + e.getMessage());
                        ms[k] = Double.NaN;
                    }
                }
            });
        }
        pool.shutdown();
        if (!pool.awaitTermination(2, TimeUnit.HOURS)) {
            pool.shutdownNow();
            throw new IllegalStateException("the pushers did not finish within two hours");
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        return new Outcome(pushes.size(), failures.get(), retries.get(), seconds, ms, servers, firstFailure.get());
    }

    /** PUTs one segment until the server takes it; returns how many 503s it answered first. */
    private static int push(HttpClient http, Push push) throws Exception {
        URI uri = URI.create(push.serverUrl() + "/v1/clusters/" + push.cluster() + "/wal/" + push.file().getFileName());
        for (int retries = 0; ; retries++) {
            HttpResponse<String> r = http.send(HttpRequest.newBuilder(uri).timeout(Duration.ofMinutes(5))
                    .PUT(HttpRequest.BodyPublishers.ofFile(push.file())).build(), HttpResponse.BodyHandlers.ofString());
            if (r.statusCode() / 100 == 2) {
                return retries;
            }
            if (r.statusCode() != 503) {
                throw new IllegalStateException("HTTP " + r.statusCode() + " " + r.body().strip());
            }
            String wait = r.headers().firstValue("Retry-After").orElse("1");
            Thread.sleep(1000L * (wait.matches("[0-9]+") ? Long.parseLong(wait) : 1));
        }
    }

    private static void sleepUntil(long nanoTime) throws InterruptedException {
        long wait = nanoTime - System.nanoTime();
        if (wait > 0) {
            TimeUnit.NANOSECONDS.sleep(wait);
        }
    }
}
