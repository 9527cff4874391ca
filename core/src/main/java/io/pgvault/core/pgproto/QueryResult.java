package io.pgvault.core.pgproto;

import java.util.List;

/** One result set of a simple query, as text (null for SQL NULL). */
public record QueryResult(List<String> columns, List<List<String>> rows) {

    public String value(int row, String column) {
        int index = columns.indexOf(column);
        if (index < 0) {
            throw new IllegalArgumentException("no column " + column + " in " + columns);
        }
        return rows.get(row).get(index);
    }
}
