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

    /** What the server holds at rest: heap in use right after a full GC (its live set, about) and resident set size. */
    record Settled(long heapBytes, long rssBytes) {
    }

    /**
     * Forces a full GC in the JVM {@code pid} ({@code jcmd PID GC.run}) and reads the heap in
     * use after it ({@code GC.heap_info}) and the RSS: what stays when nothing is going on,
     * where a peak under load is mostly garbage not yet collected.
     */
    static Settled settled(long pid) throws Exception {
        jcmd(pid, "GC.run");
        Thread.sleep(500);
        // G1: " garbage-first heap   total 524288K, used 41234K [0x..."; the first "used" is the whole heap's.
        java.util.regex.Matcher used = java.util.regex.Pattern.compile("used (\\d+)K").matcher(jcmd(pid, "GC.heap_info"));
        if (!used.find()) {
            throw new IllegalStateException("no heap figure from jcmd " + pid + " GC.heap_info");
        }
        return new Settled(1024 * Long.parseLong(used.group(1)), residentBytes(pid));
    }

    private static String jcmd(long pid, String command) throws Exception {
        Process p = new ProcessBuilder("jcmd", Long.toString(pid), command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (p.waitFor() != 0) {
            throw new IllegalStateException("jcmd " + pid + " " + command + " failed: " + out);
        }
        return out;
    }

    /** Peak heap and RSS in MiB and GC seconds, as three table columns; dashes for a tool without a server. */
    static String columns(Peaks peaks) {
        return peaks == null ? String.format(Locale.ROOT, "%8s %8s %6s", "-", "-", "-")
                : String.format(Locale.ROOT, "%8.0f %8.0f %6.2f", peaks.heapBytes() / BenchSupport.MIB, peaks.rssBytes() / BenchSupport.MIB,
                        peaks.gcSeconds());
    }

    private final Process jstat;
    private final long pid;
    private final CountDownLatch firstSample = new CountDownLatch(1);
    private long heapPeak;
    private long rssPeak;
    private double gcSeconds;
    private double gcAtWindowStart;

    private ServerMemory(long pid) throws IOException {
        this.pid = pid;
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
                    record((long) (heapKib * 1024), residentBytes(pid), Double.parseDouble(fields[header.indexOf("GCT")]));
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

    /** VmRSS of process {@code pid}, from /proc (Linux). */
    static long residentBytes(long pid) throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc", Long.toString(pid), "status"))) {
            if (line.startsWith("VmRSS:")) {
                return 1024 * Long.parseLong(line.replaceAll("[^0-9]", ""));
            }
        }
        return 0;
    }
}
