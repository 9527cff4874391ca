package io.pgvault.bench;

import io.pgvault.testkit.PgCluster;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The catalog the fleet's servers share: database {@code catalog} in a real PostgreSQL, as a
 * fleet runs it (H2 is one server's file), and what the bench reads from it: who holds the
 * leases, how many transactions the servers run, how large it grows.
 */
final class FleetCatalog implements AutoCloseable {

    /** One table with its indexes and TOAST: rows and bytes on disk. */
    record Table(String name, long rows, long bytes) {
    }

    private final PgCluster pg;

    private FleetCatalog(PgCluster pg) {
        this.pg = pg;
    }

    static FleetCatalog start(int major) {
        PgCluster pg = PgCluster.builder(major).start();
        try {
            pg.execute("CREATE DATABASE catalog");
            return new FleetCatalog(pg);
        } catch (RuntimeException e) {
            pg.close();
            throw e;
        }
    }

    /** The {@code -D} settings that put a server's catalog here. */
    List<String> serverProperties() {
        return List.of("pgvault.catalog.url=" + pg.jdbcUrl("catalog"), "pgvault.catalog.user=postgres");
    }

    int major() {
        return pg.major();
    }

    /** Leases held, by server id. */
    Map<String, Integer> leasesByServer() throws SQLException {
        Map<String, Integer> held = new TreeMap<>();
        try (Connection c = pg.connect("catalog"); Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("SELECT server_id, count(*) FROM cluster_leases GROUP BY 1")) {
            while (rs.next()) {
                held.put(rs.getString(1), rs.getInt(2));
            }
        }
        return held;
    }

    /** Waits up to {@code seconds} for {@code count} leases to be held; returns how many are. */
    int awaitLeases(int count, int seconds) throws Exception {
        long deadline = System.nanoTime() + seconds * 1_000_000_000L;
        int held;
        while ((held = leasesByServer().values().stream().mapToInt(Integer::intValue).sum()) < count && System.nanoTime() < deadline) {
            Thread.sleep(500);
        }
        return held;
    }

    /**
     * Transactions committed and rolled back in the catalog so far. PostgreSQL's statistics
     * lag up to a second behind (backends flush them when idle), which a window of several
     * seconds absorbs.
     */
    long transactions() {
        return Long.parseLong(pg.queryValue("SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = 'catalog'"));
    }

    /** How a wait for a quiet catalog went: seconds waited, and the busiest rate seen meanwhile. */
    record Quiet(double seconds, double peakPerSecond) {
    }

    /**
     * Waits until the servers run fewer than {@code perSecond} transactions a second in the
     * catalog, over windows of 3 s, for at most {@code maxSeconds}: registering a cluster
     * starts work on the servers (a lease round each) that goes on after the answer.
     */
    Quiet awaitQuiet(double perSecond, int maxSeconds) throws InterruptedException {
        long start = System.nanoTime();
        double peak = 0;
        while (true) {
            long before = transactions();
            long t0 = System.nanoTime();
            Thread.sleep(3000);
            double rate = (transactions() - before) / ((System.nanoTime() - t0) / 1e9);
            peak = Math.max(peak, rate);
            double waited = (System.nanoTime() - start) / 1e9;
            if (rate < perSecond || waited >= maxSeconds) {
                return new Quiet(waited, peak);
            }
        }
    }

    long databaseBytes() {
        return Long.parseLong(pg.queryValue("catalog", "SELECT pg_database_size('catalog')"));
    }

    /** Every table of the catalog, largest first. */
    List<Table> tables() throws SQLException {
        List<Table> tables = new ArrayList<>();
        try (Connection c = pg.connect("catalog"); Statement s = c.createStatement()) {
            List<String[]> sized = new ArrayList<>();
            try (ResultSet rs = s.executeQuery("SELECT relname, pg_total_relation_size(oid) FROM pg_class WHERE relkind = 'r'"
                    + " AND relnamespace = 'public'::regnamespace ORDER BY 2 DESC, 1")) {
                while (rs.next()) {
                    sized.add(new String[] {rs.getString(1), rs.getString(2)});
                }
            }
            for (String[] t : sized) {
                try (ResultSet rs = s.executeQuery("SELECT count(*) FROM \"" + t[0] + "\"")) {
                    rs.next();
                    tables.add(new Table(t[0], rs.getLong(1), Long.parseLong(t[1])));
                }
            }
        }
        return tables;
    }

    @Override
    public void close() {
        pg.close();
    }
}
