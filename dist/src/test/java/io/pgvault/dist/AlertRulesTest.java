package io.pgvault.dist;

import org.junit.jupiter.api.Test;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The alert rules the distribution ships ({@code etc/prometheus/pgvault-alerts.yml}): Prometheus
 * accepts them ({@code promtool check rules}), their unit tests pass ({@code promtool test rules}
 * on {@code src/test/prometheus/pgvault-alerts.test.yml}, where each alert fires on a broken case
 * and stays silent on a healthy one), and each alert carries what docs/monitoring.md promises: a
 * {@code for:}, a severity of page or ticket, a summary, and a description naming its runbook
 * section, which exists.
 */
class AlertRulesTest {

    private static final Path RULES = Path.of("src/etc/prometheus/pgvault-alerts.yml");
    private static final Path RULE_TESTS = Path.of("src/test/prometheus/pgvault-alerts.test.yml");
    private static final Path MONITORING = Path.of("../docs/monitoring.md");

    private static final Pattern ALERT = Pattern.compile("^\\s*- alert: (\\w+)\\s*$", Pattern.MULTILINE);
    private static final Pattern RUNBOOK = Pattern.compile("Runbook: docs/monitoring\\.md#([a-z0-9-]+)");

    @Test
    void promtoolAcceptsTheRules() throws Exception {
        Path promtool = promtool();
        Result check = run(promtool.toString(), "check", "rules", RULES.toAbsolutePath().toString());
        assertThat(check.exit()).as("promtool check rules %s exited %d:%n%s", RULES, check.exit(), check.output()).isZero();
    }

    @Test
    void promtoolUnitTestsPass() throws Exception {
        Path promtool = promtool();
        Result test = run(promtool.toString(), "test", "rules", RULE_TESTS.toAbsolutePath().toString());
        assertThat(test.exit()).as("promtool test rules %s exited %d:%n%s", RULE_TESTS, test.exit(), test.output()).isZero();
    }

    @Test
    void everyAlertHasForSeveritySummaryAndARunbookSection() throws IOException {
        String rules = Files.readString(RULES);
        Set<String> headings = headings(Files.readString(MONITORING));
        List<String> blocks = alertBlocks(rules);
        assertThat(blocks).as("alerts in %s", RULES).hasSizeGreaterThanOrEqualTo(10);
        for (String block : blocks) {
            Matcher name = ALERT.matcher(block);
            assertThat(name.find()).isTrue();
            String alert = name.group(1);
            assertThat(block).as("%s: for", alert).containsPattern("(?m)^\\s+for: \\d+[smh]\\s*$");
            assertThat(block).as("%s: severity", alert).containsPattern("(?m)^\\s+severity: (page|ticket)\\s*$");
            assertThat(block).as("%s: summary", alert).containsPattern("(?m)^\\s+summary: .*\\{\\{");
            assertThat(block).as("%s: description", alert).containsPattern("(?m)^\\s+description: ");
            Matcher runbook = RUNBOOK.matcher(block);
            assertThat(runbook.find()).as("%s: a 'Runbook: docs/monitoring.md#...' line in its description", alert).isTrue();
            assertThat(runbook.group(1)).as("%s: its runbook anchor", alert).isEqualTo(alert.toLowerCase());
            assertThat(headings).as("%s: a section '### %s' in docs/monitoring.md", alert, alert).contains(runbook.group(1));
        }
    }

    @Test
    void everyAlertIsUnitTested() throws IOException {
        Set<String> alerts = new LinkedHashSet<>();
        Matcher m = ALERT.matcher(Files.readString(RULES));
        while (m.find()) {
            alerts.add(m.group(1));
        }
        String tests = Files.readString(RULE_TESTS);
        for (String alert : alerts) {
            // Firing (a non-empty exp_alerts) and silent (exp_alerts: []) at least once each.
            assertThat(tests).as("%s firing in %s", alert, RULE_TESTS)
                    .containsPattern("alertname: " + alert + "\\s*\\n\\s*exp_alerts:\\s*\\n\\s*- exp_labels");
            assertThat(tests).as("%s silent in %s", alert, RULE_TESTS)
                    .containsPattern("alertname: " + alert + "\\s*\\n\\s*exp_alerts: \\[\\]");
        }
    }

    /** promtool from the PATH, or the test is skipped (not passed) saying how to get it. */
    private static Path promtool() {
        Optional<Path> found = Stream.of(Optional.ofNullable(System.getenv("PATH")).orElse("").split(File.pathSeparator))
                .filter(dir -> !dir.isEmpty())
                .map(dir -> Path.of(dir, "promtool"))
                .filter(Files::isExecutable)
                .findFirst();
        assumeTrue(found.isPresent(), "promtool is not on the PATH, so the alert rules are not checked: install Debian's prometheus "
                + "package (apt-get install prometheus), which .ci/run does");
        return found.get();
    }

    private static Set<String> headings(String markdown) {
        Set<String> anchors = new LinkedHashSet<>();
        for (String line : markdown.split("\n")) {
            if (line.startsWith("#")) {
                // GitHub's anchors: lower case, punctuation dropped, spaces as hyphens.
                anchors.add(line.replaceFirst("^#+\\s*", "").trim().toLowerCase().replaceAll("[^a-z0-9 -]", "").replace(' ', '-'));
            }
        }
        return anchors;
    }

    private static List<String> alertBlocks(String rules) {
        List<String> blocks = new ArrayList<>();
        Matcher m = ALERT.matcher(rules);
        int start = -1;
        while (m.find()) {
            if (start >= 0) {
                blocks.add(rules.substring(start, m.start()));
            }
            start = m.start();
        }
        if (start >= 0) {
            blocks.add(rules.substring(start));
        }
        return blocks;
    }

    private record Result(int exit, String output) {
    }

    private static Result run(String... command) throws IOException, InterruptedException {
        Path log = Files.createTempFile("promtool-", ".out");
        try {
            Process process = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile())
                    .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null"))).start();
            if (!process.waitFor(2, TimeUnit.MINUTES)) {
                process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
                throw new AssertionError(String.join(" ", command) + " did not finish within 2 minutes:\n" + Files.readString(log));
            }
            String text = Files.readString(log, StandardCharsets.UTF_8);
            System.out.println(String.join(" ", command) + "\n" + text);
            return new Result(process.exitValue(), text);
        } finally {
            Files.deleteIfExists(log);
        }
    }
}
