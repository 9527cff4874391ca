package io.pgvault.server.catalog;

import io.pgvault.testkit.PgCluster;
import org.flywaydb.core.Flyway;
import org.h2.jdbcx.JdbcDataSource;
import org.postgresql.ds.PGSimpleDataSource;

import javax.sql.DataSource;
import java.util.Map;
import java.util.UUID;

/** Both catalogs pgvault supports, migrated and empty: the embedded H2 ({@code h2}) and PostgreSQL ({@code postgres}). */
final class TwoCatalogs implements AutoCloseable {

    private final PgCluster pg;
    private final Map<String, DataSource> byKind;

    private TwoCatalogs(PgCluster pg, Map<String, DataSource> byKind) {
        this.pg = pg;
        this.byKind = byKind;
    }

    static TwoCatalogs start() {
        PgCluster pg = PgCluster.builder(17).start();
        pg.execute("CREATE DATABASE catalog");
        PGSimpleDataSource postgres = new PGSimpleDataSource();
        postgres.setUrl(pg.jdbcUrl("catalog"));
        postgres.setUser("postgres");
        JdbcDataSource h2 = new JdbcDataSource();
        h2.setURL("jdbc:h2:mem:" + UUID.randomUUID() + ";DB_CLOSE_DELAY=-1;MODE=PostgreSQL;DATABASE_TO_LOWER=TRUE;DEFAULT_NULL_ORDERING=HIGH");
        h2.setUser("sa");
        Map<String, DataSource> byKind = Map.of("h2", h2, "postgres", postgres);
        byKind.values().forEach(ds -> Flyway.configure().dataSource(ds).locations("classpath:db/migration").load().migrate());
        return new TwoCatalogs(pg, byKind);
    }

    DataSource get(String kind) {
        return byKind.get(kind);
    }

    @Override
    public void close() {
        pg.close();
    }
}
