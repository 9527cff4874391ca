package io.pgvault.cli.soak;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The note a soak leaves: its figures, line by line, the problems that fail it (what issue
 * #22 asks: nothing lost, exact rows, nothing left behind, the heap in budget), and odd
 * things worth a look that do not (a failure with no fault around it). Written whole even
 * when the run fails half-way, so that what was measured up to there is kept.
 */
final class SoakReport {

    private final List<String> lines = new ArrayList<>();
    private final List<String> problems = new ArrayList<>();
    private final List<String> odd = new ArrayList<>();

    synchronized void line(String text) {
        lines.add(text);
    }

    synchronized void problem(String text) {
        problems.add(text);
    }

    synchronized void odd(String text) {
        odd.add(text);
    }

    synchronized List<String> problems() {
        return List.copyOf(problems);
    }

    synchronized String render() {
        StringBuilder sb = new StringBuilder();
        lines.forEach(l -> sb.append(l).append('\n'));
        if (!odd.isEmpty()) {
            sb.append("odd, worth a look (not failures): ").append(odd.size()).append('\n');
            odd.forEach(o -> sb.append("  - ").append(o).append('\n'));
        }
        if (problems.isEmpty()) {
            sb.append("verdict: PASS, nothing acknowledged was lost\n");
        } else {
            sb.append("verdict: FAIL, ").append(problems.size()).append(" problem(s):\n");
            problems.forEach(p -> sb.append("  - ").append(p).append('\n'));
        }
        return sb.toString();
    }

    void writeTo(Path file) throws IOException {
        Files.createDirectories(file.toAbsolutePath().getParent());
        Files.writeString(file, render());
    }
}
