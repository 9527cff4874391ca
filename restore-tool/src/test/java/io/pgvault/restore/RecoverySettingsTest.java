package io.pgvault.restore;

import io.pgvault.testkit.Fixtures;
import io.pgvault.testkit.PgCluster;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Settings written into postgresql.auto.conf read back by PostgreSQL itself ({@code postgres -C})
 * exactly as given, whatever quotes, backslashes, percent signs and characters they hold; a
 * value or name that would break out of its line is refused before anything is written.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class RecoverySettingsTest {

    private PgCluster pg;

    @BeforeAll
    void initdb() {
        pg = PgCluster.builder(Fixtures.testMajors().get(0)).init();
    }

    @AfterAll
    void remove() {
        pg.close();
    }

    @Test
    void postgresqlReadsBackExactlyWhatWasWritten() throws Exception {
        Map<String, String> values = new LinkedHashMap<>();
        values.put("recovery_target_name", "it's a \\back'slash\\\\ 100% 'name'");
        values.put("primary_conninfo", "host=db1 user=replicator password=p'a\\ss%w\\'d application_name='Zürich ☃ 東京'");
        // Backslash-n as two characters, which the parser would turn into a newline if read as an escape.
        values.put("restore_command", "pgvault wal-fetch --repo 'file:///srv/a b' %f %p || echo \\n \\t \\101 >&2");
        // A trailing backslash would escape the closing quote.
        values.put("recovery_end_command", "echo done \\");
        values.put("archive_cleanup_command", "''");
        RecoverySettings settings = new RecoverySettings(false, "recovery of cluster main from backup 20261125T020000Z-1a2b3c");
        values.forEach(settings::set);
        settings.writeTo(pg.dataDirectory());

        for (Map.Entry<String, String> v : values.entrySet()) {
            assertThat(pg.configValue(v.getKey())).as(v.getKey()).isEqualTo(v.getValue());
        }
        assertThat(pg.dataDirectory().resolve("recovery.signal")).exists();
        assertThat(Files.readString(pg.dataDirectory().resolve("postgresql.auto.conf")))
                .contains("recovery_target_name = 'it''s a \\\\back''slash\\\\\\\\ 100% ''name'''\n");
    }

    @Test
    void aLineBreakInAValueIsRefusedBeforeAnythingIsWritten() throws Exception {
        Path conf = pg.dataDirectory().resolve("postgresql.auto.conf");
        byte[] before = Files.readAllBytes(conf);
        for (String value : new String[] {"x'\ninclude_if_exists = '/tmp/evil.conf", "x\r\nrestore_command = 'rm -rf /'", "x\ry"}) {
            RecoverySettings settings = new RecoverySettings(true, "standby of cluster main");
            assertThatThrownBy(() -> settings.set("primary_conninfo", value).writeTo(pg.dataDirectory()))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("the value of primary_conninfo holds a line break");
        }
        assertThat(conf).hasBinaryContent(before);
        assertThat(pg.dataDirectory().resolve("standby.signal")).doesNotExist();
        assertThat(pg.configValue("primary_conninfo")).doesNotContain("include_if_exists");
    }

    @Test
    void aNameThatIsNotAPlainIdentifierIsRefused() {
        RecoverySettings settings = new RecoverySettings(false, "recovery of cluster main");
        for (String name : new String[] {"recovery_target_name = 'x'\ninclude", "bad name", "ext.setting", "1st", ""}) {
            assertThatThrownBy(() -> settings.set(name, "x")).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("is not a PostgreSQL setting name");
        }
        assertThatThrownBy(() -> new RecoverySettings(false, "recovery of\nrestore_command = 'x'"))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("comment");
        assertThatThrownBy(() -> settings.set("recovery_target_name", "a\0b")).hasMessageContaining("NUL");
    }
}
