package io.pgvault.core.pgproto;

import java.io.IOException;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * libpq's {@code require_auth} ({@code PGREQUIREAUTH}): the authentication methods the
 * client accepts from the server, e.g. {@code scram-sha-256}, or the ones it refuses,
 * e.g. {@code !password,!md5}. A server (or a man in the middle) that asks for anything
 * else gets no password: {@code require_auth=scram-sha-256} means a cleartext or MD5
 * request is refused before the password leaves pgvault.
 */
final class RequiredAuthentication {

    static final String PASSWORD = "password";
    static final String MD5 = "md5";
    static final String SCRAM = "scram-sha-256";
    static final String NONE = "none";
    private static final List<String> KNOWN = List.of(PASSWORD, MD5, SCRAM, NONE, "gss", "sspi");

    private final Set<String> listed;
    private final boolean negated;
    private final String text;

    private RequiredAuthentication(Set<String> listed, boolean negated, String text) {
        this.listed = listed;
        this.negated = negated;
        this.text = text;
    }

    static RequiredAuthentication of(Conninfo conninfo, ClientEnvironment env) {
        String text = env.setting(conninfo, "require_auth", "PGREQUIREAUTH").orElse("");
        Set<String> listed = new LinkedHashSet<>();
        Boolean negated = null;
        for (String item : text.split(",")) {
            String method = item.strip();
            if (method.isEmpty()) {
                continue;
            }
            boolean not = method.startsWith("!");
            method = not ? method.substring(1) : method;
            if (negated != null && negated != not) {
                throw new IllegalArgumentException("require_auth '" + text + "' mixes negated and plain methods: list the allowed ones, or only !excluded ones");
            }
            negated = not;
            if (!KNOWN.contains(method)) {
                throw new IllegalArgumentException("require_auth: unknown method '" + method + "' (expected one of " + String.join(", ", KNOWN) + ")");
            }
            listed.add(method);
        }
        return new RequiredAuthentication(listed, negated != null && negated, text);
    }

    /** @throws IOException when the server's request is not allowed; nothing has been sent for it */
    void check(String method, String where) throws IOException {
        if (listed.isEmpty()) {
            return;
        }
        boolean allowed = negated != listed.contains(method);
        if (!allowed) {
            throw new IOException(where + ": the server asks for " + (method.equals(NONE) ? "no authentication" : method + " authentication")
                    + ", which require_auth=" + text + " refuses: no password was sent. If that server is yours, change its pg_hba.conf method"
                    + " or the conninfo's require_auth; otherwise something is between pgvault and PostgreSQL");
        }
    }
}
