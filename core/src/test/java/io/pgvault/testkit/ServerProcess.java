package io.pgvault.testkit;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * The pgvault server in a JVM of its own, so a test can kill it with SIGKILL. Runs from
 * the test classpath, which must hold the server (the server's tests and the CLI's do);
 * the caller closes it (which also kills it).
 */
public final class ServerProcess implements AutoCloseable {

    /** The server's main class, by name: core cannot depend on the server module, but every test that starts one has it on its classpath. */
    private static final String MAIN_CLASS = "io.pgvault.server.Application";

    /** The server's heap (-Xmx): small, so that a server that holds more than it should fails here first. */
    public static final long HEAP_BYTES = 256L << 20;

    private final Process process;
    private final int port;

    private ServerProcess(Process process, int port) {
        this.process = process;
        this.port = port;
    }

    public static ServerProcess start(int port, Map<String, String> properties, Path log) {
        List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx" + (HEAP_BYTES >> 20) + "m"));
        // As bin/pgvault-server starts it.
        command.addAll(io.pgvault.core.process.GcLockerRetries.forThisJvm());
        command.addAll(List.of("-cp", System.getProperty("java.class.path"), "-Dmicronaut.server.port=" + port));
        properties.forEach((k, v) -> command.add("-D" + k + "=" + v));
        command.add(MAIN_CLASS);
        try {
            Process process = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile())).start();
            ServerProcess server = new ServerProcess(process, port);
            server.awaitHealthy();
            return server;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public String url() {
        return "http://127.0.0.1:" + port;
    }

    public long pid() {
        return process.pid();
    }

    /** False once the JVM has exited, killed or by itself. */
    public boolean isAlive() {
        return process.isAlive();
    }

    private void awaitHealthy() {
        HttpClient http = HttpClient.newHttpClient();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (System.nanoTime() < deadline) {
            if (!process.isAlive()) {
                throw new IllegalStateException("the pgvault server exited with code " + process.exitValue() + " during start-up");
            }
            try {
                if (http.send(HttpRequest.newBuilder(URI.create(url() + "/health")).build(), HttpResponse.BodyHandlers.discarding()).statusCode() == 200) {
                    return;
                }
            } catch (IOException notYet) {
                // not listening yet
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException(e);
            }
            try {
                Thread.sleep(250);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException(e);
            }
        }
        close();
        throw new IllegalStateException("the pgvault server did not become healthy on port " + port + " within 60 s");
    }

    /** SIGSTOP: the JVM freezes with its connections open, as a long GC pause, a stalled VM or a partition looks to the others. */
    public void pause() {
        signal("STOP");
    }

    /** SIGCONT after {@link #pause}: it wakes up believing no time passed. */
    public void resume() {
        signal("CONT");
    }

    private void signal(String name) {
        try {
            Process kill = new ProcessBuilder("kill", "-" + name, Long.toString(process.pid())).inheritIO().start();
            if (!kill.waitFor(10, TimeUnit.SECONDS) || kill.exitValue() != 0) {
                throw new IllegalStateException("kill -" + name + " " + process.pid() + " failed");
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    /** SIGKILL: no shutdown hook, no flush, as a power cut or the OOM killer would. */
    public void kill() throws InterruptedException {
        process.destroyForcibly();
        process.waitFor(30, TimeUnit.SECONDS);
    }

    @Override
    public void close() {
        process.destroyForcibly();
        try {
            process.waitFor(30, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
