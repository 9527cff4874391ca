package io.pgvault.core.backup;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * PostgreSQL's {@code tablespace_map} file in a base backup: a line per tablespace, its OID,
 * a space and the path its {@code pg_tblspc} link is made to at recovery, with backslash
 * escaping newlines, carriage returns and backslashes (read_tablespace_map in
 * src/backend/access/transam/xlogrecovery.c). PostgreSQL writes into those paths when it
 * recovers, so a restore never keeps the backup's file as it is: it writes one from the
 * validated plan.
 */
final class TablespaceMapFile {

    private TablespaceMapFile() {
    }

    /**
     * @return OID → path, in file order
     * @throws IllegalArgumentException for a line that is not an OID, one space and a path
     */
    static Map<String, String> parse(String text) {
        Map<String, String> entries = new LinkedHashMap<>();
        StringBuilder line = new StringBuilder();
        boolean escaped = false;
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if (!escaped && (c == '\n' || c == '\r')) {
                add(line.toString(), entries);
                line.setLength(0);
            } else if (!escaped && c == '\\') {
                escaped = true;
            } else {
                escaped = false;
                line.append(c);
            }
        }
        add(line.toString(), entries);
        return entries;
    }

    private static void add(String line, Map<String, String> entries) {
        if (line.isEmpty()) {
            return;
        }
        int space = line.indexOf(' ');
        if (space <= 0 || !line.substring(0, space).matches("[1-9][0-9]{0,9}") || space == line.length() - 1
                || entries.put(line.substring(0, space), line.substring(space + 1)) != null) {
            throw new IllegalArgumentException("line '" + line + "' is not a tablespace OID, a space and a path (or repeats an OID)");
        }
    }

    static String format(Map<String, String> entries) {
        StringBuilder out = new StringBuilder();
        entries.forEach((oid, path) -> {
            out.append(oid).append(' ');
            for (char c : path.toCharArray()) {
                if (c == '\\' || c == '\n' || c == '\r') {
                    out.append('\\');
                }
                out.append(c);
            }
            out.append('\n');
        });
        return out.toString();
    }
}
