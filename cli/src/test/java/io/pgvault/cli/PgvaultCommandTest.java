package io.pgvault.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/** The command line, run in-process: what a DBA sees and which exit code a script gets. */
class PgvaultCommandTest {

    @TempDir
    Path temp;

    private record Run(int exit, String out, String err) {
    }

    /** As {@code main} runs it: only the named subcommand is built. */
    private static Run run(String... args) {
        CommandLine cl = PgvaultCommand.commandLine(args);
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        cl.setOut(new PrintWriter(out, true));
        cl.setErr(new PrintWriter(err, true));
        int exit = cl.execute(args);
        return new Run(exit, out.toString(), err.toString());
    }

    @Test
    void helpListsTheCommands() {
        Run r = run("--help");
        assertThat(r.exit()).isZero();
        assertThat(r.out()).contains("repo", "wal-inspect");
    }

    @Test
    void aNamedSubcommandIsBuiltAloneAndAnythingElseGetsThemAll() {
        CommandLine all = PgvaultCommand.commandLine();
        assertThat(all.getSubcommands()).containsKeys("cluster", "recover", "wal-fetch", "help");
        // The names the lookup uses are the commands' own (@Command(name)), in help's order.
        assertThat(PgvaultCommand.subcommandNames()).containsExactlyElementsOf(all.getSubcommands().keySet());
        for (String name : all.getSubcommands().keySet()) {
            if (!name.equals("help")) {
                assertThat(PgvaultCommand.commandLine(new String[] {name, "--help"}).getSubcommands()).containsOnlyKeys(name);
            }
        }
        for (String[] args : new String[][] {{}, {"--help"}, {"help", "recover"}, {"recovr"}}) {
            assertThat(PgvaultCommand.commandLine(args).getSubcommands().keySet()).as(String.join(" ", args))
                    .isEqualTo(all.getSubcommands().keySet());
        }
        Run typo = run("recovr", "--repo", "file:///tmp/x");
        assertThat(typo.exit()).isEqualTo(ExitCodes.USAGE);
        assertThat(typo.err()).contains("recovr");
    }

    @Test
    void unknownOptionsAreUsageErrors() {
        Run r = run("repo", "info", "--repo", "file:///tmp/x", "--nope");
        assertThat(r.exit()).isEqualTo(ExitCodes.USAGE);
        assertThat(r.err()).contains("--nope").contains("--help");
    }

    @Test
    void repoInitThenInfo() {
        String url = temp.resolve("repo").toUri().toString();
        assertThat(run("repo", "init", "--repo", url).exit()).isZero();
        Run info = run("repo", "info", "--repo", url);
        assertThat(info.exit()).isZero();
        assertThat(info.out()).contains("format version: 1").contains("none yet");
    }

    @Test
    void infoOnAnEmptyPlaceSaysThereIsNoRepository() {
        Run r = run("repo", "info", "--repo", temp.resolve("empty").toUri().toString());
        assertThat(r.exit()).isEqualTo(ExitCodes.NOT_FOUND);
        assertThat(r.err()).contains("no pgvault repository");
    }

    @Test
    void walInspectPassesGoodAndNamesBadFiles() throws Exception {
        Path good = temp.resolve("000000010000000000000003");
        ByteBuffer b = ByteBuffer.allocate(1 << 20).order(ByteOrder.LITTLE_ENDIAN);
        b.putShort(0, (short) 0xD116).putShort(2, (short) 2).putInt(4, 1).putLong(8, 3L << 20)
                .putLong(24, 42L).putInt(32, 1 << 20).putInt(36, 8192);
        Files.write(good, b.array());
        Path renamed = temp.resolve("000000010000000000000004");
        Files.write(renamed, b.array());
        Path notWal = temp.resolve("readme.txt");
        Files.writeString(notWal, "hello");

        Run ok = run("wal-inspect", good.toString());
        assertThat(ok.exit()).isZero();
        assertThat(ok.out()).contains("OK PostgreSQL 17").contains("0/300000").contains("segment 1 MB");

        Run bad = run("wal-inspect", good.toString(), renamed.toString(), notWal.toString());
        assertThat(bad.exit()).isEqualTo(1);
        assertThat(bad.err()).contains("000000010000000000000004").contains("0/400000").contains("'readme.txt' is not a WAL file name");

        Run foreign = run("wal-inspect", "--system-identifier", "43", "--segment-size-mb", "1", good.toString());
        assertThat(foreign.exit()).isEqualTo(1);
        assertThat(foreign.err()).contains("42").contains("43");

        Run json = run("wal-inspect", "--json", good.toString(), notWal.toString());
        assertThat(json.exit()).isEqualTo(ExitCodes.FAILED);
        com.fasterxml.jackson.databind.JsonNode files = new com.fasterxml.jackson.databind.ObjectMapper().readTree(json.out());
        assertThat(files.get(0).path("status").asText()).isEqualTo("OK");
        assertThat(files.get(0).path("systemIdentifier").asText()).isEqualTo("42");
        assertThat(files.get(0).path("segmentSizeMb").asInt()).isEqualTo(1);
        assertThat(files.get(1).path("status").asText()).isEqualTo("INVALID");
        assertThat(files.get(1).path("error").asText()).contains("not a WAL file name");
    }

    @Test
    void repoInfoPrintsJson() throws Exception {
        String url = temp.resolve("repo").toUri().toString();
        assertThat(run("repo", "init", "--repo", url).exit()).isZero();
        Run info = run("repo", "info", "--repo", url, "--json");
        assertThat(info.exit()).as(info.err()).isZero();
        com.fasterxml.jackson.databind.JsonNode doc = new com.fasterxml.jackson.databind.ObjectMapper().readTree(info.out());
        assertThat(doc.path("formatVersion").asInt()).isEqualTo(1);
        assertThat(doc.path("encryption").isNull()).isTrue();
        assertThat(doc.path("clusters").isArray()).isTrue();
    }

    @Test
    void fixedChoicesAreListedAndOthersAreUsageErrors() {
        Run help = run("recover", "--help");
        assertThat(help.out()).contains("immediate, latest").contains("promote, pause, shutdown");
        Run bad = run("recover", "--repo", "file:///nowhere", "--cluster", "main", "--pgdata", temp.resolve("d").toString(),
                "--target-action", "explode");
        assertThat(bad.exit()).isEqualTo(ExitCodes.USAGE);
        assertThat(bad.err()).contains("explode").contains("promote, pause, shutdown");
        Run standbyOnly = run("recover", "--repo", "file:///nowhere", "--cluster", "main", "--pgdata", temp.resolve("d").toString(),
                "--slot", "s1", "--launcher", "pgvault");
        assertThat(standbyOnly.exit()).isEqualTo(ExitCodes.USAGE);
        assertThat(standbyOnly.err()).contains("add --standby");
    }
}
