package io.pgvault.server.catalog;

import javax.sql.DataSource;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.sql.Types;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

/** The JDBC plumbing the catalog's tables share: one query shape, nulls and instants bound alike on H2 and PostgreSQL. */
final class Sql {

    private Sql() {
    }

    @FunctionalInterface
    interface RowMapper<T> {
        T map(ResultSet rs) throws SQLException;
    }

    static <T> List<T> query(DataSource dataSource, String sql, RowMapper<T> mapper, Object... params) {
        return query(dataSource, 0, sql, mapper, params);
    }

    /** A query that fails after {@code timeoutSeconds} (0: none), as every query of a lease must. */
    static <T> List<T> query(DataSource dataSource, int timeoutSeconds, String sql, RowMapper<T> mapper, Object... params) {
        try (Connection c = dataSource.getConnection(); PreparedStatement ps = c.prepareStatement(sql)) {
            ps.setQueryTimeout(timeoutSeconds);
            bind(ps, params);
            List<T> rows = new ArrayList<>();
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    rows.add(mapper.map(rs));
                }
            }
            return rows;
        } catch (SQLException e) {
            throw new CatalogException("catalog query failed: " + e.getMessage(), e);
        }
    }

    /** Runs an INSERT, UPDATE or DELETE; {@code what} says what failed, for the message. */
    static int update(DataSource dataSource, String what, String sql, Object... params) {
        try (Connection c = dataSource.getConnection()) {
            return update(c, sql, params);
        } catch (SQLException e) {
            throw new CatalogException("cannot " + what + " in the catalog: " + e.getMessage(), e);
        }
    }

    static int update(Connection c, String sql, Object... params) throws SQLException {
        return update(c, 0, sql, params);
    }

    /** An INSERT, UPDATE or DELETE that fails after {@code timeoutSeconds} (0: none). */
    static int update(Connection c, int timeoutSeconds, String sql, Object... params) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement(sql)) {
            ps.setQueryTimeout(timeoutSeconds);
            bind(ps, params);
            return ps.executeUpdate();
        }
    }

    @FunctionalInterface
    interface Work {
        void run(Connection c) throws SQLException;
    }

    /** Runs {@code work} in one transaction: all of it or, on any failure, none; {@code what} says what failed. */
    static void inTransaction(DataSource dataSource, String what, Work work) {
        try (Connection c = dataSource.getConnection()) {
            boolean autoCommit = c.getAutoCommit();
            c.setAutoCommit(false);
            try {
                work.run(c);
                c.commit();
            } catch (SQLException | RuntimeException e) {
                c.rollback();
                throw e;
            } finally {
                c.setAutoCommit(autoCommit);
            }
        } catch (SQLException e) {
            throw new CatalogException("cannot " + what + ": " + e.getMessage(), e);
        }
    }

    /** Binds parameters: an {@link Instant} as a timestamp, a {@link Null} as a typed NULL. */
    private static void bind(PreparedStatement ps, Object... params) throws SQLException {
        for (int i = 0; i < params.length; i++) {
            Object p = params[i];
            if (p instanceof Instant instant) {
                ps.setTimestamp(i + 1, Timestamp.from(instant));
            } else if (p instanceof Null n) {
                ps.setNull(i + 1, n.sqlType);
            } else {
                ps.setObject(i + 1, p);
            }
        }
    }

    /** A NULL of a type: JDBC drivers need the type of a null parameter. */
    enum Null {
        BIGINT(Types.BIGINT), INTEGER(Types.INTEGER), TEXT(Types.VARCHAR), TIMESTAMP(Types.TIMESTAMP);

        final int sqlType;

        Null(int sqlType) {
            this.sqlType = sqlType;
        }
    }

    static Object orNull(Long value) {
        return value == null ? Null.BIGINT : value;
    }

    static Object orNull(Integer value) {
        return value == null ? Null.INTEGER : value;
    }

    static Object orNull(String value) {
        return value == null ? Null.TEXT : value;
    }

    static Object orNull(Instant value) {
        return value == null ? Null.TIMESTAMP : value;
    }

    static Instant instant(ResultSet rs, int column) throws SQLException {
        Timestamp t = rs.getTimestamp(column);
        return t == null ? null : t.toInstant();
    }
}
