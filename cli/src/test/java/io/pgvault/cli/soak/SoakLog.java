package io.pgvault.cli.soak;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.LocalTime;
import java.time.temporal.ChronoUnit;

/** The soak's event log: each line on the console, as it happens, and in a file that outlives the run. */
final class SoakLog {

    private final Path file;

    SoakLog(Path file) throws IOException {
        this.file = file;
        Files.createDirectories(file.toAbsolutePath().getParent());
        Files.writeString(file, "");
    }

    synchronized void event(String message) {
        String line = "[soak " + LocalTime.now().truncatedTo(ChronoUnit.MILLIS) + "] " + message;
        System.out.println(line);
        try {
            Files.writeString(file, line + "\n", StandardCharsets.UTF_8, StandardOpenOption.APPEND);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    Path file() {
        return file;
    }
}
