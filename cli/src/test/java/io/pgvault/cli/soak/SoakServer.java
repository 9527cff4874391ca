package io.pgvault.cli.soak;

import io.pgvault.testkit.Fixtures;
import io.pgvault.testkit.ServerProcess;

import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;

/**
 * The pgvault server of the soak, in its own JVM on one port for the whole run: killed and
 * started again by the injector, and watched for exits nobody asked for (an OOM kill, a
 * crash), which are noted and followed by a restart so the soak goes on and reports them.
 */
final class SoakServer implements AutoCloseable {

    private final int port = Fixtures.freePort();
    private final Map<String, String> properties;
    private final Path log;
    private final Consumer<String> events;
    private final List<String> unexpectedExits = new CopyOnWriteArrayList<>();
    private ServerProcess process;
    private int kills;
    /** Down on purpose: killed and not started again yet (or a start that failed, which is noted). */
    private boolean down = true;

    SoakServer(Map<String, String> properties, Path log, Consumer<String> events) {
        this.properties = Map.copyOf(properties);
        this.log = log;
        this.events = events;
    }

    synchronized void start() {
        process = ServerProcess.start(port, properties, log);
        down = false;
        events.accept("server up, pid " + process.pid());
    }

    String url() {
        return "http://127.0.0.1:" + port;
    }

    synchronized long pid() {
        return process.pid();
    }

    synchronized void kill() throws InterruptedException {
        events.accept("server SIGKILL, pid " + process.pid());
        down = true;
        process.kill();
        kills++;
    }

    /** Restarts a server that exited without being killed by {@link #kill()}, and notes it. */
    synchronized void checkAlive() {
        if (down || process == null || process.isAlive()) {
            return;
        }
        String exit = Instant.now() + ": the server (pid " + process.pid() + ") exited by itself";
        unexpectedExits.add(exit);
        events.accept(exit + "; starting it again");
        startAgain();
    }

    /** Makes sure a server runs (at the end of the soak, whatever the injector left). */
    synchronized void ensureUp() {
        if (process == null || !process.isAlive()) {
            startAgain();
        }
    }

    private void startAgain() {
        try {
            start();
        } catch (RuntimeException e) {
            down = true;
            unexpectedExits.add(Instant.now() + ": the server did not start again: " + e.getMessage());
            events.accept("the server did not start again: " + e.getMessage());
        }
    }

    synchronized int kills() {
        return kills;
    }

    List<String> unexpectedExits() {
        return List.copyOf(unexpectedExits);
    }

    Path log() {
        return log;
    }

    @Override
    public synchronized void close() {
        if (process != null) {
            process.close();
        }
    }
}
