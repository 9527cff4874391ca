package io.pgvault.core.pgproto;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/** The simple query protocol: one SQL string, its result sets as text. */
final class SimpleQuery {

    private SimpleQuery() {
    }

    static List<QueryResult> run(WireConnection wire, String sql) throws IOException {
        wire.sendQuery(sql);
        List<QueryResult> results = new ArrayList<>();
        ResultBuilder current = null;
        IOException error = null;
        while (true) {
            WireConnection.Message m = wire.readRaw();
            switch (m.type()) {
                case 'T' -> current = ResultBuilder.describe(m);
                case 'D' -> current.row(m);
                case 'C' -> {
                    if (current != null) {
                        results.add(current.build());
                        current = null;
                    }
                }
                case 'E' -> error = new PgServerException(wire.where() + ": " + sql, WireConnection.errorFields(m));
                case 'Z' -> {
                    if (error != null) {
                        throw error;
                    }
                    if (current != null) {
                        results.add(current.build());
                    }
                    return results;
                }
                case 'N', 'S', 'I' -> {
                    // notices, parameter changes, empty query
                }
                default -> throw wire.unexpected(m, sql);
            }
        }
    }

    /** Collects a result set's rows. */
    static final class ResultBuilder {
        private final List<String> columns;
        private final List<List<String>> rows = new ArrayList<>();

        private ResultBuilder(List<String> columns) {
            this.columns = columns;
        }

        static ResultBuilder describe(WireConnection.Message m) {
            WireConnection.Reader r = m.reader();
            int count = r.int16();
            List<String> columns = new ArrayList<>();
            for (int i = 0; i < count; i++) {
                columns.add(r.cstring());
                r.bytes(18);
            }
            return new ResultBuilder(columns);
        }

        void row(WireConnection.Message m) {
            WireConnection.Reader r = m.reader();
            int count = r.int16();
            List<String> row = new ArrayList<>(count);
            for (int i = 0; i < count; i++) {
                int len = r.int32();
                row.add(len < 0 ? null : new String(r.bytes(len), java.nio.charset.StandardCharsets.UTF_8));
            }
            rows.add(row);
        }

        QueryResult build() {
            return new QueryResult(List.copyOf(columns), List.copyOf(rows));
        }
    }
}
