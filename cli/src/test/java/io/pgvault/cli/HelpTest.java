package io.pgvault.cli;

import org.junit.jupiter.api.Test;
import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.PositionalParamSpec;

import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** Every command's --help has examples that really parse, and says what each positional parameter is. */
class HelpTest {

    @Test
    void everyCommandHasExamplesAndDescribedParameters() {
        List<String> checked = new ArrayList<>();
        walk(PgvaultCommand.commandLine(), checked);
        assertThat(checked).contains("pgvault check", "pgvault recover", "pgvault cluster add", "pgvault repo rotate-key");
    }

    private static void walk(CommandLine cl, List<String> checked) {
        CommandSpec spec = cl.getCommandSpec();
        String name = spec.qualifiedName();
        if (!spec.name().equals("help")) {
            String usage = cl.getUsageMessage(CommandLine.Help.Ansi.OFF);
            assertThat(usage).as(name + " --help").contains("Examples:");
            for (PositionalParamSpec p : spec.positionalParameters()) {
                assertThat(String.join(" ", p.description())).as(name + " " + p.paramLabel()).isNotBlank();
            }
            for (String line : spec.usageMessage().footer()) {
                String example = line.strip();
                if (example.startsWith("pgvault ")) {
                    List<String> words = ComposeFileTest.words(example);
                    String[] args = words.subList(1, words.size()).toArray(String[]::new);
                    // parseArgs throws on an unknown option, a missing value or a bad enum value.
                    PgvaultCommand.commandLine().parseArgs(args);
                }
            }
            checked.add(name);
        }
        cl.getSubcommands().values().stream().distinct().forEach(sub -> walk(sub, checked));
    }
}
