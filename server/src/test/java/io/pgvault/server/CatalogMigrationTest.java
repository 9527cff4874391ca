package io.pgvault.server;

import io.pgvault.testkit.PgCluster;
import org.flywaydb.core.Flyway;
import org.flywaydb.core.api.output.MigrateResult;
import org.junit.jupiter.api.Test;

import java.util.UUID;

import static org.assertj.core.api.Assertions.assertThat;

/** The same Flyway migrations apply to the embedded H2 default and to a real PostgreSQL. */
class CatalogMigrationTest {

    private static MigrateResult migrate(String url, String user, String password) {
        return Flyway.configure().dataSource(url, user, password).locations("classpath:db/migration").load().migrate();
    }

    @Test
    void migratesAnEmptyH2Database() {
        MigrateResult result = migrate("jdbc:h2:mem:" + UUID.randomUUID() + ";MODE=PostgreSQL;DATABASE_TO_LOWER=TRUE;DEFAULT_NULL_ORDERING=HIGH", "sa", "");
        assertThat(result.success).isTrue();
        assertThat(result.migrationsExecuted).isPositive();
    }

    @Test
    void migratesAnEmptyPostgresDatabase() {
        try (PgCluster pg = PgCluster.builder(17).start()) {
            pg.execute("CREATE DATABASE catalog");
            MigrateResult result = migrate(pg.jdbcUrl("catalog"), "postgres", "");
            assertThat(result.success).isTrue();
            assertThat(pg.queryValue("catalog", "SELECT count(*) FROM pg_tables WHERE tablename IN ('clusters', 'timelines', 'wal_files')")).isEqualTo("3");
        }
    }
}
