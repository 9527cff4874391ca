package io.pgvault.bench;

import io.pgvault.testkit.OsUser;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.function.IntSupplier;

/**
 * N shell callers in parallel, as the PostgreSQL OS user, each running one command per file of
 * its share of the files (file {@code i} goes to caller {@code i % N}, so every caller works
 * in WAL order), timing every call the way PostgreSQL waits on archive_command or
 * restore_command.
 *
 * <p>The command is a bash function {@code call} that gets the file's path as {@code $1} and
 * may append a line to {@code "$RETRIES"} for each retry it makes; an optional function
 * {@code after} runs untimed once a call succeeded (PostgreSQL renaming {@code .ready} to
 * {@code .done}). A failed call is counted and the caller goes on to its next file.
 *
 * <p>The callers run under a Perl wrapper that makes itself the child subreaper
 * ({@code prctl(PR_SET_CHILD_SUBREAPER)}): processes the calls leave behind, such as
 * pgBackRest's detached async process and its workers, are reparented to it instead of to
 * init, so it waits for them and their CPU time counts in the round's.
 */
final class ParallelCallers {

    /**
     * @param acknowledgedSeconds from the start until the last caller finished
     * @param storedSeconds from the start until {@code storedCount} reached the number of files (NaN when not watched)
     * @param callerCpuSeconds user plus system CPU of the callers and everything they started, detached processes included
     */
    record Outcome(int calls, int failures, int retries, double acknowledgedSeconds, double storedSeconds, List<Double> callMs,
            double callerCpuSeconds) {
    }

    private static final String SUBREAPER = """
            require "syscall.ph";
            my $cpuFile = shift(@ARGV);
            syscall(&SYS_prctl, 36, 1, 0, 0, 0) == 0 or die "prctl(PR_SET_CHILD_SUBREAPER): $!\\n";
            my $pid = fork() // die "fork: $!\\n";
            if ($pid == 0) { exec(@ARGV) or die "exec: $!\\n"; }
            my $status = 0;
            while ((my $child = wait()) != -1) { $status = $? if $child == $pid; }
            my (undef, undef, $childUser, $childSystem) = times();
            open(my $cpu, ">", $cpuFile) or die "$cpuFile: $!\\n";
            printf($cpu "%.2f\\n", $childUser + $childSystem);
            close($cpu);
            exit($status >> 8);
            """;

    private ParallelCallers() {
    }

    /**
     * Runs the round in {@code dir} (which must be new) and waits for it and every process it left behind.
     *
     * @param storedCount how many of the files have reached the repository so far, polled every 20 ms
     *     while the round runs; null when a call's success already means its file is stored
     */
    static Outcome run(Path dir, List<Path> files, int callers, String functions, IntSupplier storedCount) throws Exception {
        Files.createDirectories(dir);
        List<String> launches = new ArrayList<>();
        for (int k = 0; k < callers; k++) {
            List<String> share = new ArrayList<>();
            for (int i = k; i < files.size(); i += callers) {
                share.add(files.get(i).toString());
            }
            Files.write(dir.resolve("files-" + k), share);
            Files.writeString(dir.resolve("caller-" + k + ".sh"), callerScript(k, functions));
            launches.add("bash caller-" + k + ".sh &");
        }
        // $EPOCHREALTIME (bash 5) stamps the start and end without forking a process.
        Files.writeString(dir.resolve("round.sh"), "cd " + dir + "\necho $EPOCHREALTIME > started\n" + String.join("\n", launches)
                + "\nwait\necho $EPOCHREALTIME > finished\n");
        OsUser.own(dir);

        List<String> command = new ArrayList<>(List.of("perl", "-e", SUBREAPER, "--", dir.resolve("cpu").toString()));
        command.addAll(OsUser.wrap(List.of("bash", dir.resolve("round.sh").toString())));
        Process round = new ProcessBuilder(command).inheritIO().start();
        double storedAt = storedCount == null ? Double.NaN : awaitStored(storedCount, files.size(), round);
        if (round.waitFor() != 0) {
            throw new IllegalStateException("the callers in " + dir + " failed (" + round.exitValue() + ")");
        }

        double started = numberIn(dir.resolve("started"));
        double finished = numberIn(dir.resolve("finished"));
        List<Double> callMs = new ArrayList<>();
        int failures = 0;
        int retries = 0;
        for (int k = 0; k < callers; k++) {
            for (String line : linesOf(dir.resolve("times-" + k))) {
                String[] t = line.split(" ");
                callMs.add(1000 * (Double.parseDouble(t[1]) - Double.parseDouble(t[0])));
            }
            failures += linesOf(dir.resolve("failures-" + k)).size();
            retries += linesOf(dir.resolve("retries-" + k)).size();
        }
        return new Outcome(files.size(), failures, retries, finished - started, storedAt - started, callMs, numberIn(dir.resolve("cpu")));
    }

    private static String callerScript(int k, String functions) {
        return "RETRIES=retries-" + k + "\n" + functions + "\n"
                + "while read -r f; do\n"
                + "  s=$EPOCHREALTIME\n"
                + "  if call \"$f\"; then\n"
                + "    echo \"$s $EPOCHREALTIME\" >> times-" + k + "\n"
                + "    if declare -F after > /dev/null; then after \"$f\"; fi\n"
                + "  else\n"
                + "    echo \"$f\" >> failures-" + k + "\n"
                + "  fi\n"
                + "done < files-" + k + "\n";
    }

    /** Epoch seconds when {@code storedCount} first reached {@code total}; NaN if it never did before the round ended. */
    private static double awaitStored(IntSupplier storedCount, int total, Process round) throws InterruptedException {
        while (storedCount.getAsInt() < total) {
            if (!round.isAlive()) {
                return storedCount.getAsInt() >= total ? now() : Double.NaN;
            }
            Thread.sleep(20);
        }
        return now();
    }

    private static double now() {
        Instant t = Instant.now();
        return t.getEpochSecond() + t.getNano() / 1e9;
    }

    /** The number a one-line file holds (a time stamp, CPU seconds). */
    private static double numberIn(Path file) throws IOException {
        return Double.parseDouble(Files.readString(file).trim());
    }

    private static List<String> linesOf(Path file) throws IOException {
        return Files.exists(file) ? Files.readAllLines(file) : List.of();
    }
}
