package io.pgvault.core.pgproto;

import java.nio.file.Path;
import java.util.Optional;

/**
 * The TLS side of a connection string, with libpq's keywords, environment variables and
 * defaults: {@code sslmode} ({@code PGSSLMODE}, default prefer), {@code sslrootcert}
 * (default {@code ~/.postgresql/root.crt}; {@code system} for the JDK's trusted roots),
 * {@code sslcert}/{@code sslkey} (default {@code ~/.postgresql/postgresql.crt|.key}, used
 * when present), {@code sslpassword} for an encrypted key, and {@code channel_binding}.
 *
 * @param rootCert empty for {@code sslrootcert=system}
 */
public record TlsSettings(SslMode mode, Optional<Path> rootCert, Path cert, Path key, Optional<String> keyPassword,
                          ChannelBinding channelBinding) {

    static final String SYSTEM_ROOTS = "system";

    /** @throws IllegalArgumentException for a value libpq would refuse, naming it */
    public static TlsSettings of(Conninfo conninfo, ClientEnvironment env) {
        SslMode mode = env.setting(conninfo, "sslmode", "PGSSLMODE").map(SslMode::parse).orElse(SslMode.PREFER);
        String root = env.setting(conninfo, "sslrootcert", "PGSSLROOTCERT").orElse(env.postgresqlDirectory("root.crt").toString());
        Optional<Path> rootCert = root.equals(SYSTEM_ROOTS) ? Optional.empty() : Optional.of(Path.of(root));
        if (rootCert.isEmpty() && mode != SslMode.VERIFY_FULL) {
            // libpq 16's rule: trusting every public CA is only safe when the host name is checked too.
            throw new IllegalArgumentException("sslrootcert=system needs sslmode=verify-full (it is " + mode.keyword()
                    + "): any certificate a public CA issued would pass otherwise");
        }
        ChannelBinding binding = env.setting(conninfo, "channel_binding", "PGCHANNELBINDING").map(ChannelBinding::parse)
                .orElse(ChannelBinding.PREFER);
        if (binding == ChannelBinding.REQUIRE && mode == SslMode.DISABLE) {
            throw new IllegalArgumentException("channel_binding=require needs TLS, but sslmode=disable: use sslmode=verify-full");
        }
        return new TlsSettings(mode, rootCert,
                Path.of(env.setting(conninfo, "sslcert", "PGSSLCERT").orElse(env.postgresqlDirectory("postgresql.crt").toString())),
                Path.of(env.setting(conninfo, "sslkey", "PGSSLKEY").orElse(env.postgresqlDirectory("postgresql.key").toString())),
                conninfo.get("sslpassword"), binding);
    }
}
