package io.pgvault.cli;

import io.pgvault.core.crypto.CipherJit;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * bin/pgvault starts the prefetcher and the decrypting commands without a JVM of ours to ask,
 * so it keeps its own copy of {@link CipherJit#JVM_OPTIONS}: the two must not drift apart, and
 * the copy must come after the package-wide thresholds it narrows (the last matching one wins).
 */
class CipherJitLauncherTest {

    private static final Path LAUNCHER = Path.of("").toAbsolutePath().getParent().resolve("bin/pgvault");
    private static final Path SERVER_LAUNCHER = LAUNCHER.resolveSibling("pgvault-server");

    @Test
    void theLauncherPassesTheSameOptionsAsTheJavaSide() throws Exception {
        assertThat(cipherJit(Files.readAllLines(LAUNCHER))).isEqualTo(CipherJit.JVM_OPTIONS);
    }

    @Test
    void theServerLauncherPassesThemTooBeforeTheUsersOptions() throws Exception {
        List<String> lines = Files.readAllLines(SERVER_LAUNCHER);
        assertThat(cipherJit(lines)).isEqualTo(CipherJit.JVM_OPTIONS);
        assertThat(lines).contains("set -euf");
        assertThat(lines).filteredOn(l -> l.startsWith("exec ")).singleElement().satisfies(l -> {
            assertThat(l).contains("$CIPHER_JIT");
            assertThat(l.indexOf("$CIPHER_JIT")).isLessThan(l.indexOf("PGVAULT_SERVER_JAVA_OPTS"));
            assertThat(l.indexOf("$GC_LOCKER")).isPositive().isLessThan(l.indexOf("PGVAULT_SERVER_JAVA_OPTS"));
        });
        assertThat(optionList(lines, "GC_LOCKER")).isEqualTo(io.pgvault.core.process.GcLockerRetries.JVM_OPTIONS);
        assertThat(CipherJit.appliedTo(List.of("-Xmx1g", CipherJit.JVM_OPTIONS.get(0), CipherJit.JVM_OPTIONS.get(1)))).isFalse();
        List<String> all = new ArrayList<>(List.of("-Xmx1g"));
        all.addAll(CipherJit.JVM_OPTIONS);
        assertThat(CipherJit.appliedTo(all)).isTrue();
    }

    @Test
    void everyDecryptingJvmTheLauncherStartsGetsThem() throws Exception {
        List<String> lines = Files.readAllLines(LAUNCHER);
        List<String> launches = lines.stream().filter(l -> l.contains("io.pgvault.restore.fetch.") || l.contains("\"$MAIN\" \"$@\" ;;")).toList();
        // The prefetcher, a wal-fetch JVM, and recover/info/verify.
        assertThat(launches).hasSize(3).allSatisfy(l -> assertThat(l).contains("$CIPHER_JIT"));
        String restoreCommands = launches.get(2);
        assertThat(restoreCommands.indexOf("$CIPHER_JIT")).isGreaterThan(restoreCommands.indexOf("com/sun/crypto/provider/*.*"));
        // Their '*' reaches java as written: the script expands them unquoted, with pathname expansion off.
        assertThat(lines).contains("set -euf");
    }

    @Test
    void theOptionsPrintNothingOnStandardOutput() throws Exception {
        // A wal-fetch JVM's standard output goes to PostgreSQL's log, once per segment.
        List<String> command = new ArrayList<>(List.of(ProcessHandle.current().info().command().orElse("java")));
        command.addAll(CipherJit.JVM_OPTIONS);
        command.add("-version");
        Process jvm = new ProcessBuilder(command).redirectError(ProcessBuilder.Redirect.DISCARD).start();
        String out = new String(jvm.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(jvm.waitFor()).isZero();
        assertThat(out).isEmpty();
    }

    /** The lines of the CIPHER_JIT='...' assignment, without its quotes. */
    /**
     * The server launcher passes the GC locker options only to a JVM that accepts them: JDK 25
     * refuses to start with them ("Unrecognized VM option"). Runs the launcher's own lines with
     * this JVM (which keeps them) and with every other JDK installed beside it.
     */
    @Test
    void theServerLauncherDropsTheGcLockerOptionsForAJvmThatRefusesThem() throws Exception {
        List<String> lines = Files.readAllLines(SERVER_LAUNCHER);
        int from = lines.indexOf(lines.stream().filter(l -> l.startsWith("GC_LOCKER='")).findFirst().orElseThrow());
        String probe = lines.stream().filter(l -> l.startsWith("if ! \"$java\" $GC_LOCKER")).findFirst().orElseThrow();
        String script = String.join("\n", lines.subList(from, from + 2)) + "\n" + probe + "\nprintf '%s' \"$GC_LOCKER\"";
        Path thisJava = Path.of(System.getProperty("java.home"), "bin", "java");
        List<Path> javas = new ArrayList<>(List.of(thisJava));
        try (java.util.stream.Stream<Path> jdks = Files.list(thisJava.getParent().getParent().getParent())) {
            jdks.map(d -> d.resolve("bin/java")).filter(Files::isExecutable).forEach(javas::add);
        }
        for (Path java : javas) {
            Process p = new ProcessBuilder("sh", "-c", "java=\"$1\"\n" + script, "sh", java.toString()).redirectErrorStream(true).start();
            String kept = new String(p.getInputStream().readAllBytes()).trim();
            p.waitFor();
            Process accepts = new ProcessBuilder(java.toString(), "-XX:+UnlockDiagnosticVMOptions", "-XX:GCLockerRetryAllocationCount=100", "-version")
                    .redirectErrorStream(true).start();
            accepts.getInputStream().readAllBytes();
            boolean known = accepts.waitFor() == 0;
            assertThat(kept).as(java.toString()).isEqualTo(known ? String.join("\n", io.pgvault.core.process.GcLockerRetries.JVM_OPTIONS) : "");
            if (java.equals(thisJava)) {
                assertThat(known).as("this JDK 17 knows the option").isEqualTo(Runtime.version().feature() < 25);
            }
        }
    }

    private static List<String> cipherJit(List<String> lines) {
        return optionList(lines, "CIPHER_JIT");
    }

    /** The options a launcher assigns to {@code variable}, one per line between single quotes. */
    private static List<String> optionList(List<String> lines, String variable) {
        List<String> options = new ArrayList<>();
        boolean inside = false;
        for (String line : lines) {
            if (line.startsWith(variable + "='")) {
                inside = true;
                line = line.substring((variable + "='").length());
            }
            if (inside) {
                boolean last = line.endsWith("'");
                options.add(last ? line.substring(0, line.length() - 1) : line);
                if (last) {
                    break;
                }
            }
        }
        return options;
    }
}
