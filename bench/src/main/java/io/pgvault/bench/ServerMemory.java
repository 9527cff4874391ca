package io.pgvault.bench;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * The memory of a running pgvault server, watched for a stretch of time: peak heap in use and
 * GC time from {@code jstat -gc PID 100}, peak resident set size from {@code /proc/PID/status}
 * at each of its samples. jstat reads the counters the JVM publishes in its perf-data file, so
 * watching costs the server nothing (scraping {@code /prometheus} five times a second cost it
 * about 8% of a core).
 */
final class ServerMemory implements AutoCloseable {

    /** Peaks in bytes over a window, and the GC time spent in it. */
    record Peaks(long heapBytes, long rssBytes, double gcSeconds) {
    }

    /** Peak heap and RSS in MiB and GC seconds, as three table columns; dashes for a tool without a server. */
    static String columns(Peaks peaks) {
        return peaks == null ? String.format(Locale.ROOT, "%8s %8s %6s", "-", "-", "-")
                : String.format(Locale.ROOT, "%8.0f %8.0f %6.2f", peaks.heapBytes() / BenchSupport.MIB, peaks.rssBytes() / BenchSupport.MIB,
                        peaks.gcSeconds());
    }

    private final Process jstat;
    private final Path status;
    private final CountDownLatch firstSample = new CountDownLatch(1);
    private long heapPeak;
    private long rssPeak;
    private double gcSeconds;
    private double gcAtWindowStart;

    private ServerMemory(long pid) throws IOException {
        this.status = Path.of("/proc", Long.toString(pid), "status");
        this.jstat = new ProcessBuilder("jstat", "-gc", Long.toString(pid), "100").redirectErrorStream(true).start();
        Thread reader = new Thread(this::readSamples, "server-memory-jstat");
        reader.setDaemon(true);
        reader.start();
    }

    /** Starts watching the JVM {@code pid}; returns once the first sample is in. */
    static ServerMemory watch(long pid) throws IOException, InterruptedException {
        ServerMemory memory = new ServerMemory(pid);
        if (!memory.firstSample.await(30, TimeUnit.SECONDS)) {
            memory.close();
            throw new IllegalStateException("jstat gave no sample of JVM " + pid);
        }
        return memory;
    }

    /** Forgets the peaks so far: {@link #window()} covers from now on. */
    synchronized void startWindow() {
        heapPeak = 0;
        rssPeak = 0;
        gcAtWindowStart = gcSeconds;
    }

    /** The peaks since {@link #startWindow()}, after waiting for one more sample. */
    Peaks window() throws InterruptedException {
        Thread.sleep(150);
        synchronized (this) {
            return new Peaks(heapPeak, rssPeak, gcSeconds - gcAtWindowStart);
        }
    }

    @Override
    public void close() {
        jstat.destroy();
    }

    private void readSamples() {
        try (BufferedReader lines = new BufferedReader(new InputStreamReader(jstat.getInputStream(), StandardCharsets.UTF_8))) {
            List<String> header = null;
            for (String line = lines.readLine(); line != null; line = lines.readLine()) {
                String[] fields = line.trim().split("\\s+");
                if (fields[0].equals("S0C")) {
                    header = Arrays.asList(fields);
                } else if (header != null && fields.length == header.size()) {
                    // Capacities and usages are in KiB; the heap is both survivor spaces, eden and the old generation.
                    double heapKib = 0;
                    for (String space : List.of("S0U", "S1U", "EU", "OU")) {
                        heapKib += Double.parseDouble(fields[header.indexOf(space)]);
                    }
                    record((long) (heapKib * 1024), residentBytes(), Double.parseDouble(fields[header.indexOf("GCT")]));
                }
            }
        } catch (IOException | RuntimeException ended) {
            // jstat was stopped, or the server is gone
        }
    }

    private synchronized void record(long heapBytes, long rssBytes, double gcTotalSeconds) {
        heapPeak = Math.max(heapPeak, heapBytes);
        rssPeak = Math.max(rssPeak, rssBytes);
        gcSeconds = gcTotalSeconds;
        firstSample.countDown();
    }

    private long residentBytes() throws IOException {
        for (String line : Files.readAllLines(status)) {
            if (line.startsWith("VmRSS:")) {
                return 1024 * Long.parseLong(line.replaceAll("[^0-9]", ""));
            }
        }
        return 0;
    }
}
