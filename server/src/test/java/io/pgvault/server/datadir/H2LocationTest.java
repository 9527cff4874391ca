package io.pgvault.server.datadir;

import org.junit.jupiter.api.Test;

import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

class H2LocationTest {

    @Test
    void aFileUrlNamesTheDatabaseWithoutItsSettings() {
        assertThat(H2Location.of("jdbc:h2:file:./pgvault-data/catalog;MODE=PostgreSQL;DATABASE_TO_LOWER=TRUE"))
                .contains(Path.of("pgvault-data/catalog").toAbsolutePath());
        assertThat(H2Location.of("jdbc:h2:/srv/pgvault/catalog")).contains(Path.of("/srv/pgvault/catalog"));
        assertThat(H2Location.of("jdbc:h2:~/pgvault/catalog")).contains(Path.of(System.getProperty("user.home"), "pgvault/catalog"));
    }

    @Test
    void nothingLocalWhenTheDatabaseIsInMemoryRemoteOrNotH2() {
        assertThat(H2Location.of("jdbc:h2:mem:api-test;MODE=PostgreSQL")).isEmpty();
        assertThat(H2Location.of("jdbc:h2:tcp://db:9092/catalog")).isEmpty();
        assertThat(H2Location.of("jdbc:postgresql://db/pgvault")).isEmpty();
    }
}
