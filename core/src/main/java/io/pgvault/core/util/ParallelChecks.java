package io.pgvault.core.util;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * Runs independent checks on a few threads and collects what every one of them found
 * wrong: unlike a restore, a check does not stop at the first failure, so one run can
 * report every damaged object.
 */
public final class ParallelChecks {

    private ParallelChecks() {
    }

    /**
     * @param checks each throws to report a problem; its message should name the object
     * @return the failures' messages, in the order the checks were given; empty when all passed
     * @throws IOException when interrupted
     */
    public static List<String> run(int threads, String threadName, List<? extends Callable<?>> checks) throws IOException {
        ExecutorService pool = Executors.newFixedThreadPool(Math.max(1, threads), r -> {
            Thread t = new Thread(r, threadName);
            t.setDaemon(true);
            return t;
        });
        try {
            List<Future<?>> running = new ArrayList<>();
            checks.forEach(c -> running.add(pool.submit(c)));
            List<String> problems = new ArrayList<>();
            for (Future<?> f : running) {
                try {
                    f.get();
                } catch (ExecutionException e) {
                    Throwable cause = e.getCause();
                    problems.add(cause instanceof IOException && cause.getMessage() != null ? cause.getMessage() : cause.toString());
                }
            }
            return problems;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted", e);
        } finally {
            pool.shutdownNow();
        }
    }
}
