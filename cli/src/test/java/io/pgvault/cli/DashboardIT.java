package io.pgvault.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.micronaut.context.ApplicationContext;
import io.micronaut.runtime.server.EmbeddedServer;
import io.pgvault.core.security.ApiRole;
import io.pgvault.core.security.ApiTokenEntry;
import io.pgvault.core.security.TokenSecret;
import io.pgvault.testkit.Fixtures;
import io.pgvault.testkit.OsUser;
import io.pgvault.testkit.PgCluster;
import org.junit.jupiter.api.Test;
import org.openqa.selenium.By;
import org.openqa.selenium.Keys;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.interactions.Actions;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.sql.Connection;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static io.pgvault.cli.Browser.testId;
import static io.pgvault.cli.RecoverySupport.CHECKSUM;
import static io.pgvault.cli.RecoverySupport.serverProperties;
import static io.pgvault.cli.RecoverySupport.switchAndAwaitArchived;
import static io.pgvault.cli.RecoverySupport.value;
import static io.pgvault.cli.RecoverySupport.workDirectory;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * The dashboard (issue #19) in a real Chromium against a real server, whose tokens file
 * holds an admin, an archive and a read token, and a real PostgreSQL archiving into it with
 * the README's curl one-liner. The page asks for a token (a wrong one is refused with the
 * server's message), shows the cluster healthy, then critical with the reason once a push
 * is refused; the cluster page lists the backup with its size; the planner, given a time
 * between two committed batches, names the backup and prints a command, and that exact
 * command (its --pgdata and --token-file placeholders filled in) recovers exactly the rows
 * committed before that time; an incremental backup's row names the backup it builds on. The
 * overview is also looked at on a phone-sized viewport and reached by keyboard alone.
 */
class DashboardIT {

    private static final ObjectMapper JSON = new ObjectMapper();
    private final HttpClient http = HttpClient.newHttpClient();
    private String url;
    private String admin;
    private String archive;
    private String read;

    @Test
    void dashboardShowsHealthRefusalsBackupsAndPlansAnExactRecovery() throws Exception {
        try (Browser browser = Browser.start(1280, 900)) {
            Path dir = workDirectory("pgvault-dashboard-it-");
            List<PgCluster> started = new ArrayList<>();
            EmbeddedServer server = null;
            try {
                Map<String, Object> props = serverProperties(dir);
                props.put("pgvault.repository.url", dir.resolve("repo").toUri().toString());
                props.put("pgvault.security.tokens-file", tokensFile(dir).toString());
                server = ApplicationContext.run(EmbeddedServer.class, props);
                url = "http://127.0.0.1:" + server.getPort();
                story(browser, dir, started);
            } catch (Throwable t) {
                browser.screenshot("failure");
                throw new AssertionError(t.getMessage() + "\nbrowser console:\n" + browser.console(), t);
            } finally {
                for (PgCluster pg : started) {
                    pg.close();
                }
                if (server != null) {
                    server.close();
                }
                Fixtures.deleteTree(dir);
            }
        }
    }

    private void story(Browser browser, Path dir, List<PgCluster> started) throws Exception {
        Path header = dir.resolve("archive-auth/header");
        Files.createDirectories(header.getParent());
        Files.writeString(header, "Authorization: Bearer " + archive + "\n");
        Files.setPosixFilePermissions(header, PosixFilePermissions.fromString("rw-------"));
        OsUser.own(header.getParent());
        PgCluster.Builder builder = PgCluster.builder(newestMajor())
                .setting("archive_mode", "on")
                .setting("archive_command", "curl -fsS -H @" + header + " -T %p " + url + "/v1/clusters/main/wal/%f")
                .setting("wal_keep_size", "256MB");
        // PostgreSQL's own incremental backups (17+) need WAL summaries.
        PgCluster pg = (newestMajor() >= 17 ? builder.setting("summarize_wal", "on") : builder).start();
        started.add(pg);
        String conninfo = "host=127.0.0.1 port=" + pg.port() + " user=postgres";
        HttpResponse<String> added = call(admin, "POST", "/v1/clusters", "{\"name\":\"main\",\"conninfo\":\"" + conninfo + "\"}");
        assertThat(added.statusCode()).as(added.body()).isEqualTo(201);
        pg.execute("CREATE TABLE marks (id int PRIMARY KEY, v text NOT NULL)");
        String backupId = backup("full");
        switchAndAwaitArchived(pg, Duration.ofSeconds(90));

        // Signing in: the shell loads without a token, /v1/status asks for one.
        browser.open(url + "/");
        assertThat(browser.await(testId("login-message")).getText()).contains("requires a token");
        signIn(browser, "pgv_not-a-token-of-this-server");
        String refusal = browser.until(d -> text(d.findElement(testId("login-message")), "not one this pgvault server knows"),
                "the refusal of a wrong token");
        assertThat(refusal).contains("not one this pgvault server knows");
        signIn(browser, read);

        // (a) healthy.
        WebElement row = browser.await(By.cssSelector("[data-testid='cluster-row'][data-cluster='main']"));
        browser.until(d -> "ok".equals(d.findElement(By.cssSelector("[data-cluster='main'] [data-testid='health']")).getAttribute("data-health")),
                "cluster main healthy: " + row.getText());
        WebElement light = browser.await(By.cssSelector("[data-cluster='main'] [data-testid='health']"));
        assertThat(light.getAttribute("aria-label")).isEqualTo("health: OK");
        assertThat(light.getText()).contains("OK");
        assertThat(browser.driver().findElements(By.cssSelector("[data-cluster='main'] [data-testid='reasons']"))).isEmpty();
        assertThat(browser.await(By.cssSelector("[data-cluster='main'] [data-testid='archiving-state']")).getText()).isEqualTo("ok");
        browser.screenshot("overview-healthy");

        // Keyboard only: Tab reaches the cluster's link, Enter opens its page.
        browser.script("document.activeElement && document.activeElement.blur(); window.scrollTo(0, 0)");
        for (int i = 0; i < 12 && !"cluster-link".equals(browser.script("return document.activeElement.dataset.testid")); i++) {
            new Actions(browser.driver()).sendKeys(Keys.TAB).perform();
        }
        assertThat(browser.script("return document.activeElement.dataset.testid")).as("Tab reaches the cluster link").isEqualTo("cluster-link");
        assertThat(browser.script("return getComputedStyle(document.activeElement).outlineStyle")).as("focus is visible").isNotEqualTo("none");
        new Actions(browser.driver()).sendKeys(Keys.ENTER).perform();
        assertThat(browser.await(testId("cluster-name")).getText()).isEqualTo("main");
        browser.await(testId("back")).click();

        // (b) a refused push turns it critical, with the reason.
        HttpResponse<String> refused = call(archive, "PUT", "/v1/clusters/main/wal/0000000100000000000000F0",
                "this is not a WAL segment of cluster main, nor of any other");
        assertThat(refused.statusCode()).as(refused.body()).isBetween(400, 499);
        browser.until(d -> "critical".equals(d.findElement(By.cssSelector("[data-cluster='main'] [data-testid='health']"))
                .getAttribute("data-health")), "cluster main critical after the refused push (the page refreshes every 10 s)");
        assertThat(browser.await(By.cssSelector("[data-cluster='main'] [data-testid='health']")).getAttribute("aria-label"))
                .isEqualTo("health: Critical");
        String reasons = browser.await(By.cssSelector("[data-cluster='main'] [data-testid='reasons']")).getText();
        assertThat(reasons).containsIgnoringCase("refused");
        assertThat(browser.await(By.cssSelector("[data-cluster='main'] [data-testid='archiving-state']")).getText()).isEqualTo("failing");
        browser.screenshot("overview-critical");

        // (c) the backup on the cluster page, with its size.
        JsonNode b = JSON.readTree(call(read, "GET", "/v1/clusters/main/backups/" + backupId, null).body());
        browser.await(By.cssSelector("[data-cluster='main'] [data-testid='cluster-link']")).click();
        WebElement backupRow = browser.await(By.cssSelector("[data-testid='backup-row'][data-backup='" + backupId + "']"));
        assertThat(backupRow.getAttribute("data-status")).isEqualTo("complete");
        String size = backupRow.findElement(testId("backup-size")).getText();
        assertThat(size).as("raw size of %s bytes", b.path("rawBytes").asLong()).startsWith(mebibytes(b.path("rawBytes").asLong()));
        assertThat(size).contains(mebibytes(b.path("storedBytes").asLong()) + " stored");
        assertThat(browser.await(testId("last-refusal")).getText()).contains("0000000100000000000000F0");
        assertThat(browser.await(By.cssSelector("[data-testid='event'][data-kind='refusal']")).getText()).isNotBlank();

        // (d) two committed batches; the planner, given a time between them, names the backup and the command.
        String between;
        String before;
        try (Connection db = pg.connect(); Statement st = db.createStatement()) {
            st.execute("INSERT INTO marks SELECT g, md5(g::text) FROM generate_series(1, 50) g");
            before = value(st, CHECKSUM);
            Thread.sleep(1200);
            between = value(st, "SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US')");
            Thread.sleep(1500);
            st.execute("INSERT INTO marks SELECT g, md5(g::text) FROM generate_series(51, 100) g");
        }
        assertThat(before).startsWith("50:");
        switchAndAwaitArchived(pg, Duration.ofSeconds(90));
        browser.driver().navigate().refresh();
        browser.await(testId("plan-form"));
        new org.openqa.selenium.support.ui.Select(browser.await(testId("plan-kind"))).selectByValue("time");
        WebElement target = browser.await(testId("plan-value"));
        target.clear();
        target.sendKeys(between);
        browser.await(testId("plan-submit")).click();
        String command = browser.await(testId("plan-command")).getText();
        assertThat(browser.await(testId("plan-backup")).getText()).isEqualTo(backupId);
        assertThat(command).startsWith("pgvault recover").contains("--cluster main").contains("--target-time");
        browser.fullPageScreenshot("cluster-page");
        ((org.openqa.selenium.JavascriptExecutor) browser.driver()).executeScript("arguments[0].scrollIntoView()", browser.await(testId("plan")));
        browser.screenshot("planner-result");

        // A click on the time axis plans a recovery to the time under the pointer (here three quarters along).
        WebElement track = browser.await(testId("axis-track"));
        browser.script("arguments[0].scrollIntoView({block: 'center'})", track);
        new Actions(browser.driver()).moveToElement(track, track.getSize().getWidth() / 4, 0).click().perform();
        browser.until(d -> d.findElement(testId("plan-value")).getAttribute("value").matches("\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z")
                && !d.findElements(By.cssSelector("[data-testid='plan'], [data-testid='plan-error']")).isEmpty() ? true : null,
                "a plan (or the reason why not) for the time clicked on the axis");
        assertThat(java.time.Instant.parse(target.getAttribute("value")))
                .isBetween(java.time.Instant.parse(b.path("finishedAt").asText()).minusSeconds(60), java.time.Instant.now().plusSeconds(60));

        // A click on a backup's marker plans a recovery to its end, by its end LSN.
        WebElement marker = browser.await(By.cssSelector("[data-testid='axis-backup'][data-backup='" + backupId + "']"));
        browser.script("arguments[0].click()", marker);
        browser.until(d -> "lsn".equals(d.findElement(testId("plan-kind")).getAttribute("value"))
                && b.path("endLsn").asText().equals(d.findElement(testId("plan-value")).getAttribute("value"))
                && !d.findElements(testId("plan-backup")).isEmpty() ? true : null, "a plan to the end of backup " + backupId);
        assertThat(browser.await(testId("plan-backup")).getText()).isEqualTo(backupId);
        // Stopping at its consistency point, on its own timeline.
        assertThat(browser.await(testId("plan-command")).getText()).contains("--target-lsn " + b.path("endLsn").asText())
                .contains("--target-exclusive").contains("--target-timeline 1");
        new org.openqa.selenium.support.ui.Select(browser.await(testId("plan-kind"))).selectByValue("time");

        // A time after everything archived is refused with the server's reason.
        target.clear();
        target.sendKeys("2099-01-01 00:00:00");
        browser.await(testId("plan-submit")).click();
        WebElement error = browser.until(d -> d.findElements(testId("plan-error")).stream().filter(WebElement::isDisplayed).findFirst()
                .orElse(null), "the planner's refusal");
        assertThat(error.getAttribute("data-status")).isEqualTo("422");
        assertThat(error.getText()).startsWith("Not recoverable:").hasSizeGreaterThan("Not recoverable: ".length() + 10);

        // The phone.
        browser.await(testId("back")).click();
        browser.emulatePhone(390, 844);
        browser.await(By.cssSelector("[data-testid='cluster-row'][data-cluster='main']"));
        assertThat(browser.script("return document.documentElement.scrollWidth <= window.innerWidth"))
                .as("nothing wider than a 390 px phone").isEqualTo(true);
        // (Since the refusal, newer segments arrived: the health may have eased to a warning.)
        assertThat(browser.await(By.cssSelector("[data-cluster='main'] [data-testid='health']")).getText()).containsAnyOf("OK", "Warning", "Critical");
        assertThat((Boolean) browser.script("const r = document.querySelector(\"[data-cluster='main']\").getBoundingClientRect();"
                + " return r.left >= 0 && r.right <= window.innerWidth")).as("the cluster's card fits the phone's width").isTrue();
        browser.screenshot("overview-phone");
        browser.await(By.cssSelector("[data-cluster='main'] [data-testid='cluster-link']")).click();
        browser.await(By.cssSelector("[data-testid='backup-row'][data-backup='" + backupId + "']"));
        assertThat(browser.script("return document.documentElement.scrollWidth <= window.innerWidth"))
                .as("the cluster page no wider than the phone either").isEqualTo(true);
        browser.fullPageScreenshot("cluster-phone");
        browser.desktop();

        // The exact command the page printed, its two placeholders (--token-file, --pgdata) filled in, recovers the rows
        // committed before the time. The token file is PostgreSQL's user's: restore_command reads it too.
        List<String> words = shellWords(command);
        assertThat(words.subList(0, 2)).containsExactly("pgvault", "recover");
        assertThat(words).containsSubsequence("--server", url);
        Path readToken = dir.resolve("read-token/token");
        Files.createDirectories(readToken.getParent());
        Files.writeString(readToken, read + "\n");
        Files.setPosixFilePermissions(readToken, PosixFilePermissions.fromString("rw-------"));
        OsUser.own(readToken.getParent());
        try (PgCluster restored = PgCluster.builder(pg.major()).adopt(data -> {
            List<String> args = new ArrayList<>(words.subList(1, words.size()));
            fill(args, "--pgdata", data.toString());
            fill(args, "--token-file", readToken.toString());
            ProcessBuilder pb = new ProcessBuilder(launcher(args)).directory(dir.toFile()).redirectErrorStream(true);
            Process p = pb.start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            try {
                assertThat(p.waitFor(5, TimeUnit.MINUTES)).isTrue();
            } catch (InterruptedException e) {
                p.destroyForcibly();
                Thread.currentThread().interrupt();
                throw new IllegalStateException(e);
            }
            assertThat(p.exitValue()).as(out).isZero();
            assertThat(out).contains(backupId);
        })) {
            restored.start();
            // The plan's command may leave PostgreSQL's default action (pause at the target) or promote: either way, at the target.
            restored.awaitValue("SELECT NOT pg_is_in_recovery() OR pg_is_wal_replay_paused()", "t", Duration.ofMinutes(2));
            assertThat(restored.queryValue(CHECKSUM)).as("rows at " + between + "\n" + restored.serverLog()).isEqualTo(before);
        }

        // An incremental backup: its row says what it builds on, the full one's says it is full.
        String incrementalId = backup("incremental");
        browser.driver().navigate().refresh();
        WebElement incrementalRow = browser.await(By.cssSelector("[data-testid='backup-row'][data-backup='" + incrementalId + "']"));
        assertThat(incrementalRow.findElement(testId("backup-type")).getText()).isEqualTo("incremental on " + backupId);
        assertThat(browser.await(By.cssSelector("[data-testid='backup-row'][data-backup='" + backupId + "'] [data-testid='backup-type']"))
                .getText()).isEqualTo("full");
    }

    /** The value after {@code option}, a placeholder in the printed command, replaced by {@code value}. */
    private static void fill(List<String> args, String option, String value) {
        int at = args.indexOf(option);
        assertThat(at).as("the command names " + option + ": " + args).isNotNegative();
        args.set(at + 1, value);
    }

    private static void signIn(Browser browser, String token) {
        WebElement input = browser.await(testId("token-input"));
        input.clear();
        input.sendKeys(token);
        browser.await(testId("login-submit")).click();
    }

    private static String text(WebElement e, String expected) {
        String t = e.getText();
        return e.isDisplayed() && t.contains(expected) ? t : null;
    }

    /** As the page shows sizes of a few MiB and more: "12.3 MiB". */
    private static String mebibytes(long bytes) {
        double v = bytes;
        String[] units = {"B", "KiB", "MiB", "GiB"};
        int i = 0;
        while (v >= 1024 && i < units.length - 1) {
            v /= 1024;
            i++;
        }
        if (i == 0) {
            return bytes + " B";
        }
        return String.format(java.util.Locale.ROOT, v < 10 ? "%.2f" : v < 100 ? "%.1f" : "%.0f", v) + " " + units[i];
    }

    private String backup(String type) throws Exception {
        HttpResponse<String> started = call(admin, "POST", "/v1/clusters/main/backups?type=" + type, "");
        assertThat(started.statusCode()).as(started.body()).isBetween(200, 299);
        String id = JSON.readTree(started.body()).path("id").asText();
        long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(3);
        String body = "";
        while (System.nanoTime() < deadline) {
            body = call(read, "GET", "/v1/clusters/main/backups/" + id, null).body();
            if (body.contains("\"status\":\"complete\"")) {
                return id;
            }
            assertThat(body).doesNotContain("\"status\":\"failed\"");
            Thread.sleep(300);
        }
        throw new AssertionError("backup " + id + " did not complete: " + body);
    }

    private HttpResponse<String> call(String token, String method, String path, String body) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(url + path)).header("Authorization", "Bearer " + token)
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
        if (body != null && body.startsWith("{")) {
            b.header("Content-Type", "application/json");
        }
        return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    /** A tokens file with an admin, an archive and a read token (the last two for cluster main). */
    private Path tokensFile(Path dir) throws Exception {
        admin = TokenSecret.generate();
        archive = TokenSecret.generate();
        read = TokenSecret.generate();
        String lines = new ApiTokenEntry("ops", ApiRole.ADMIN, ApiTokenEntry.parseClusters("*"), TokenSecret.digest(admin)).toLine() + "\n"
                + new ApiTokenEntry("db", ApiRole.ARCHIVE, ApiTokenEntry.parseClusters("main"), TokenSecret.digest(archive)).toLine() + "\n"
                + new ApiTokenEntry("viewer", ApiRole.READ, ApiTokenEntry.parseClusters("main"), TokenSecret.digest(read)).toLine() + "\n";
        Path file = dir.resolve("tokens");
        Files.writeString(file, lines);
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-------"));
        return file;
    }

    private static int newestMajor() {
        List<Integer> majors = Fixtures.testMajors();
        return majors.get(majors.size() - 1);
    }

    private static List<String> launcher(List<String> args) {
        List<String> command = new ArrayList<>(List.of(Path.of("").toAbsolutePath().getParent().resolve("bin/pgvault").toString()));
        command.addAll(args);
        return command;
    }

    /** The words of a POSIX shell command line as the page prints it: blanks separate, '...' and "..." quote. */
    static List<String> shellWords(String line) {
        List<String> words = new ArrayList<>();
        StringBuilder word = null;
        char quote = 0;
        for (int i = 0; i < line.length(); i++) {
            char c = line.charAt(i);
            if (quote != 0) {
                if (c == quote) {
                    quote = 0;
                } else if (c == '\\' && quote == '"' && i + 1 < line.length()) {
                    word.append(line.charAt(++i));
                } else {
                    word.append(c);
                }
            } else if (Character.isWhitespace(c)) {
                if (word != null) {
                    words.add(word.toString());
                    word = null;
                }
            } else {
                if (word == null) {
                    word = new StringBuilder();
                }
                if (c == '\'' || c == '"') {
                    quote = c;
                } else if (c == '\\' && i + 1 < line.length()) {
                    word.append(line.charAt(++i));
                } else {
                    word.append(c);
                }
            }
        }
        if (word != null) {
            words.add(word.toString());
        }
        return words;
    }
}
