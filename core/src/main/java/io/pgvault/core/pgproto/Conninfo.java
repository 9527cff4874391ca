package io.pgvault.core.pgproto;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

/**
 * A libpq connection string ({@code host=db1 port=5432 user=backup password='x y'}),
 * parsed the way libpq does for the keywords pgvault uses. Unknown keywords are kept.
 */
public final class Conninfo {

    private final Map<String, String> values;

    private Conninfo(Map<String, String> values) {
        this.values = values;
    }

    /**
     * @throws IllegalArgumentException naming the position and what was expected
     */
    public static Conninfo parse(String text) {
        Map<String, String> values = new LinkedHashMap<>();
        if (text == null) {
            return new Conninfo(values);
        }
        int i = 0;
        int n = text.length();
        while (true) {
            while (i < n && Character.isWhitespace(text.charAt(i))) {
                i++;
            }
            if (i >= n) {
                break;
            }
            int keyStart = i;
            while (i < n && text.charAt(i) != '=' && !Character.isWhitespace(text.charAt(i))) {
                i++;
            }
            String key = text.substring(keyStart, i);
            while (i < n && Character.isWhitespace(text.charAt(i))) {
                i++;
            }
            if (i >= n || text.charAt(i) != '=' || key.isEmpty()) {
                throw new IllegalArgumentException("connection string '" + Secrets.redact(text) + "': expected keyword=value at position "
                        + keyStart + ", e.g. host=db1 port=5432 user=backup");
            }
            i++;
            while (i < n && Character.isWhitespace(text.charAt(i))) {
                i++;
            }
            StringBuilder value = new StringBuilder();
            if (i < n && text.charAt(i) == '\'') {
                i++;
                boolean closed = false;
                while (i < n) {
                    char c = text.charAt(i++);
                    if (c == '\\' && i < n) {
                        value.append(text.charAt(i++));
                    } else if (c == '\'') {
                        closed = true;
                        break;
                    } else {
                        value.append(c);
                    }
                }
                if (!closed) {
                    throw new IllegalArgumentException("connection string '" + Secrets.redact(text) + "': unterminated quoted value for " + key);
                }
            } else {
                while (i < n && !Character.isWhitespace(text.charAt(i))) {
                    char c = text.charAt(i++);
                    if (c == '\\' && i < n) {
                        c = text.charAt(i++);
                    }
                    value.append(c);
                }
            }
            values.put(key, value.toString());
        }
        return new Conninfo(values);
    }

    public Optional<String> get(String key) {
        return Optional.ofNullable(values.get(key));
    }

    /** The host name: what a verify-full certificate must name, and what .pgpass lines match. */
    public String host() {
        return get("host").filter(h -> !h.isEmpty()).or(() -> get("hostaddr")).orElse("127.0.0.1");
    }

    /** Where to connect: {@code hostaddr} when given (libpq then skips the name lookup), else the host. */
    public String address() {
        return get("hostaddr").filter(a -> !a.isEmpty()).orElse(host());
    }

    public int port() {
        String port = get("port").orElse("5432");
        try {
            int p = Integer.parseInt(port);
            if (p < 1 || p > 65535) {
                throw new NumberFormatException();
            }
            return p;
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("port '" + port + "' in the connection string is not a TCP port (1-65535)");
        }
    }

    public String user() {
        return get("user").orElse("postgres");
    }

    public Optional<String> password() {
        return get("password");
    }

    public String dbname() {
        return get("dbname").orElse(user());
    }

    public int connectTimeoutSeconds() {
        // At most a day: the milliseconds must fit a socket timeout.
        return get("connect_timeout").map(Integer::parseInt).map(t -> Math.min(t, 86_400)).orElse(10);
    }

    /** The same settings with another password (from .pgpass or configuration). */
    public Conninfo withPassword(String password) {
        Map<String, String> copy = new LinkedHashMap<>(values);
        copy.put("password", password);
        return new Conninfo(copy);
    }

    /** Helpers that keep secrets out of messages. */
    static final class Secrets {
        private Secrets() {
        }

        static String redact(String text) {
            return text.replaceAll("(?i)(password\\s*=\\s*)('[^']*'|\\S+)", "$1***");
        }
    }

    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder();
        values.forEach((k, v) -> sb.append(sb.length() == 0 ? "" : " ").append(k).append('=').append(k.endsWith("password") ? "***" : v));
        return sb.toString();
    }
}
