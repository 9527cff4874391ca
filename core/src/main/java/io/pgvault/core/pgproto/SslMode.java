package io.pgvault.core.pgproto;

import java.util.Arrays;
import java.util.Locale;
import java.util.stream.Collectors;

/** libpq's {@code sslmode}, with its meaning: how hard to insist on TLS and what to verify. */
public enum SslMode {
    /** Plain TCP only. */
    DISABLE,
    /** Plain first; TLS only if the server refuses a plain connection. */
    ALLOW,
    /** TLS if the server offers it, else plain (libpq's default). */
    PREFER,
    /** TLS or nothing; the certificate is checked against a root certificate only if one is there. */
    REQUIRE,
    /** TLS, and the server's certificate must chain to a trusted root. */
    VERIFY_CA,
    /** As {@link #VERIFY_CA}, and the certificate must name the host connected to. */
    VERIFY_FULL;

    static SslMode parse(String value) {
        try {
            return valueOf(value.toUpperCase(Locale.ROOT).replace('-', '_'));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("sslmode '" + value + "' is not one of "
                    + Arrays.stream(values()).map(SslMode::keyword).collect(Collectors.joining(", ")));
        }
    }

    /** As written in a connection string. */
    public String keyword() {
        return name().toLowerCase(Locale.ROOT).replace('_', '-');
    }

    /** Whether a plain connection is refused. */
    boolean requiresTls() {
        return compareTo(REQUIRE) >= 0;
    }
}
