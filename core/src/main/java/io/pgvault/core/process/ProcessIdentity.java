package io.pgvault.core.process;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

/**
 * A process as a spool names it (the prefetch and push spools): its pid, its start time (field 22 of
 * {@code /proc/PID/stat}, clock ticks since boot) and the boot's id
 * ({@code /proc/sys/kernel/random/boot_id}). A pid is reused; the three together are not.
 * bin/pgvault compares the same fields with the shell's {@code read}, without a fork.
 */
public record ProcessIdentity(long pid, String startTime, String bootId) {

    private static final Path BOOT_ID = Path.of("/proc/sys/kernel/random/boot_id");

    public ProcessIdentity {
        if (pid <= 0 || !startTime.matches("[0-9]+") || !bootId.matches("[0-9a-f-]+")) {
            throw new IllegalArgumentException("not a process identity: " + pid + " " + startTime + " " + bootId);
        }
    }

    /** This process; empty without {@code /proc} (then no spool is used). */
    public static Optional<ProcessIdentity> current() {
        return of(ProcessHandle.current().pid());
    }

    /** The process that has {@code pid} now; empty when none does, or it has exited (a zombie). */
    public static Optional<ProcessIdentity> of(long pid) {
        try {
            String stat = Files.readString(Path.of("/proc", Long.toString(pid), "stat"), StandardCharsets.US_ASCII);
            // Field 2 (the command) is in parentheses and may hold spaces and parentheses: fields 3.. follow the last ')'.
            String[] fields = stat.substring(stat.lastIndexOf(')') + 2).strip().split(" ");
            if (fields.length < 20 || fields[0].equals("Z") || fields[0].equals("X") || fields[0].equals("x")) {
                return Optional.empty();
            }
            String boot = Files.readString(BOOT_ID, StandardCharsets.US_ASCII).strip();
            return Optional.of(new ProcessIdentity(pid, fields[19], boot));
        } catch (IOException | RuntimeException e) {
            return Optional.empty();
        }
    }

    /** Parses {@code .pid}'s line; empty for anything else (a bare pid of an older launcher, a torn line). */
    public static Optional<ProcessIdentity> parse(String line) {
        String[] parts = line.strip().split(" ");
        if (parts.length != 3) {
            return Optional.empty();
        }
        try {
            return Optional.of(new ProcessIdentity(Long.parseLong(parts[0]), parts[1], parts[2]));
        } catch (IllegalArgumentException e) {
            return Optional.empty();
        }
    }

    public String line() {
        return pid + " " + startTime + " " + bootId;
    }

    /** Whether this very process still runs. */
    public boolean alive() {
        return of(pid).filter(this::equals).isPresent();
    }
}
