package io.pgvault.core.util;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** Words a shell reads back as they were: the planner's command is pasted into one. */
class ShellWordsTest {

    @Test
    void quotesOnlyWhatNeedsItAndSingleQuotesSurvive() {
        assertThat(ShellWords.join(List.of("pgvault", "recover", "--target-lsn", "0/5A3F2C8", "--server", "https://h:8432")))
                .isEqualTo("pgvault recover --target-lsn 0/5A3F2C8 --server https://h:8432");
        assertThat(ShellWords.quote("--target-name=before upgrade")).isEqualTo("'--target-name=before upgrade'");
        assertThat(ShellWords.quote("it's $(rm -rf ~)")).isEqualTo("'it'\\''s $(rm -rf ~)'");
        assertThat(ShellWords.quote("2026-12-04 18:00:00.000000+00")).isEqualTo("'2026-12-04 18:00:00.000000+00'");
        // zsh expands =cmd to the command's path; ~ is expanded by every shell.
        assertThat(ShellWords.quote("=rm")).isEqualTo("'=rm'");
        assertThat(ShellWords.quote("~root")).isEqualTo("'~root'");
    }
}
