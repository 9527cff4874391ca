package io.pgvault.core.pgproto;

import java.util.Locale;

/**
 * libpq's {@code channel_binding}: whether SCRAM must be bound to the TLS channel
 * (SCRAM-SHA-256-PLUS with tls-server-end-point), which proves that the server holding
 * the password verifier is the one at the other end of the TLS connection, not a man in
 * the middle relaying it.
 */
public enum ChannelBinding {
    DISABLE, PREFER, REQUIRE;

    static ChannelBinding parse(String value) {
        try {
            return valueOf(value.toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("channel_binding '" + value + "' is not one of disable, prefer, require");
        }
    }
}
