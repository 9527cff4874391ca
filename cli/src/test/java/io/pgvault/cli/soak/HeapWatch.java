package io.pgvault.cli.soak;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Samples the server's heap from its Prometheus endpoint every two seconds (a server that
 * is down is skipped) and keeps the peaks: heap in use (all pools), and the live data left
 * after the last major collection, which is what a leak grows. Each sample also lets the
 * server watch notice a JVM that exited by itself.
 */
final class HeapWatch implements AutoCloseable {

    private static final Pattern HEAP_USED = Pattern.compile("(?m)^jvm_memory_used_bytes\\{[^}]*area=\"heap\"[^}]*} ([0-9.Ee+-]+)$");
    private static final Pattern LIVE_DATA = Pattern.compile("(?m)^jvm_gc_live_data_size_bytes(?:\\{[^}]*})? ([0-9.Ee+-]+)$");

    private final SoakServer server;
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
    private final Thread thread;
    private volatile boolean stopping;
    private volatile long peakUsed;
    private volatile long peakLive;
    private volatile int samples;

    HeapWatch(SoakServer server) {
        this.server = server;
        this.thread = new Thread(this::run, "soak-heap-watch");
        this.thread.setDaemon(true);
        thread.start();
    }

    private void run() {
        while (!stopping) {
            server.checkAlive();
            sample();
            try {
                Thread.sleep(2000);
            } catch (InterruptedException e) {
                return;
            }
        }
    }

    /** Takes one sample now (also at the end, before the verdict). */
    void sample() {
        try {
            HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(server.url() + "/prometheus"))
                    .timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
            if (r.statusCode() != 200) {
                return;
            }
            long used = 0;
            Matcher m = HEAP_USED.matcher(r.body());
            while (m.find()) {
                used += (long) Double.parseDouble(m.group(1));
            }
            peakUsed = Math.max(peakUsed, used);
            Matcher live = LIVE_DATA.matcher(r.body());
            if (live.find()) {
                peakLive = Math.max(peakLive, (long) Double.parseDouble(live.group(1)));
            }
            samples++;
        } catch (IOException down) {
            // killed, restarting, or too busy: the next sample counts
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    long peakUsed() {
        return peakUsed;
    }

    long peakLive() {
        return peakLive;
    }

    int samples() {
        return samples;
    }

    @Override
    public void close() throws InterruptedException {
        stopping = true;
        thread.interrupt();
        thread.join();
    }
}
