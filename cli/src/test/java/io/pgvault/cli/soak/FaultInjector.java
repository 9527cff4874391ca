package io.pgvault.cli.soak;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Deque;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;

/**
 * Injects one fault at a time, a new one every 20-40 s (start to start), until closed. The
 * kinds come in seeded random order, each once per round, so that even a short run meets
 * every kind it has time for; how long each lasts is drawn from the same seed. A fault
 * begins only once the previous one and its aftermath are over, so every push and fetch
 * can be told apart as met by one fault or by none. Every window is logged and kept.
 */
final class FaultInjector implements AutoCloseable {

    private final Random random;
    private final Map<FaultKind, Fault> faults;
    private final Consumer<String> log;
    private final List<FaultWindow> windows = new CopyOnWriteArrayList<>();
    private final List<Throwable> errors = new CopyOnWriteArrayList<>();
    private final Deque<FaultKind> round = new ArrayDeque<>();
    private final Thread thread;
    private volatile boolean stopping;

    FaultInjector(long seed, Map<FaultKind, Fault> faults, Consumer<String> log) {
        this.random = new Random(seed);
        this.faults = new EnumMap<>(faults);
        this.log = log;
        this.thread = new Thread(this::run, "soak-fault-injector");
        this.thread.setDaemon(true);
    }

    void start() {
        thread.start();
    }

    private void run() {
        Instant lastStart = Instant.now();
        Instant quietFrom = lastStart;
        while (!stopping) {
            Instant next = lastStart.plus(Fault.seconds(random, 20, 40));
            if (next.isBefore(quietFrom.plusSeconds(5))) {
                next = quietFrom.plusSeconds(5);
            }
            if (!sleepUntil(next)) {
                return;
            }
            FaultKind kind = nextKind();
            Fault fault = faults.get(kind);
            Duration hold = fault.holdFor(random);
            lastStart = Instant.now();
            String detail;
            try {
                detail = fault.begin(random);
            } catch (Exception | Error e) {
                errors.add(new IllegalStateException("could not inject " + kind + ": " + e, e));
                quietFrom = Instant.now();
                continue;
            }
            log.accept("fault " + kind + " begins: " + kind.description() + ", " + detail + ", for " + hold.toSeconds() + " s");
            sleepUntil(lastStart.plus(hold));
            heal(kind, fault, detail, lastStart);
            quietFrom = Instant.now().plus(fault.aftermath());
        }
    }

    private void heal(FaultKind kind, Fault fault, String detail, Instant start) {
        try {
            fault.heal();
        } catch (Exception | Error e) {
            errors.add(new IllegalStateException("could not heal " + kind + ": " + e, e));
        }
        FaultWindow window = new FaultWindow(kind, detail, start, Instant.now(), fault.aftermath());
        windows.add(window);
        log.accept("fault " + kind + " healed after " + window.length().toMillis() / 1000.0 + " s");
    }

    private FaultKind nextKind() {
        if (round.isEmpty()) {
            List<FaultKind> kinds = new ArrayList<>(faults.keySet());
            Collections.shuffle(kinds, random);
            round.addAll(kinds);
        }
        return round.removeFirst();
    }

    /** Sleeps until {@code when}; false when asked to stop meanwhile (a fault in force still gets healed by its caller). */
    private boolean sleepUntil(Instant when) {
        while (!stopping) {
            long left = Duration.between(Instant.now(), when).toMillis();
            if (left <= 0) {
                return true;
            }
            try {
                Thread.sleep(Math.min(left, 200));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return false;
            }
        }
        return false;
    }

    List<FaultWindow> windows() {
        return List.copyOf(windows);
    }

    List<Throwable> errors() {
        return List.copyOf(errors);
    }

    Map<FaultKind, Integer> countsByKind() {
        Map<FaultKind, Integer> counts = new EnumMap<>(FaultKind.class);
        for (FaultKind kind : faults.keySet()) {
            counts.put(kind, 0);
        }
        windows.forEach(w -> counts.merge(w.kind(), 1, Integer::sum));
        return counts;
    }

    /** Stops injecting; a fault in force is healed before this returns. */
    @Override
    public void close() throws InterruptedException {
        stopping = true;
        // Not interrupted: a fault is healed (a server restarted) in full, however long that takes.
        thread.join();
    }
}
