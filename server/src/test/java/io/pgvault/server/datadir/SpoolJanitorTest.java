package io.pgvault.server.datadir;

import io.micronaut.context.ApplicationContext;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Instant;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

class SpoolJanitorTest {

    @TempDir
    Path dir;

    @Test
    void leftoversOfAnEarlierRunAreRemovedAtStartAndThisRunsFilesStay() throws Exception {
        Path spool = Files.createDirectories(dir.resolve("data/spool"));
        Path leftover = Files.write(spool.resolve("wal-123.spool"), new byte[4096]);
        Files.setLastModifiedTime(leftover, FileTime.from(Instant.now().minusSeconds(3600)));
        Path current = Files.write(spool.resolve("partial-456.spool"), new byte[16]);
        Files.setLastModifiedTime(current, FileTime.from(Instant.now().plusSeconds(60)));
        try (ApplicationContext ctx = ApplicationContext.run(Map.of(
                "pgvault.data-dir", dir.resolve("data").toString(),
                "pgvault.repository.url", dir.resolve("repo").toUri().toString(),
                "pgvault.catalog.url", "jdbc:h2:file:" + dir.resolve("catalog") + ";MODE=PostgreSQL;DATABASE_TO_LOWER=TRUE;DEFAULT_NULL_ORDERING=HIGH"))) {
            assertThat(leftover).doesNotExist();
            assertThat(current).exists();
        }
    }
}
