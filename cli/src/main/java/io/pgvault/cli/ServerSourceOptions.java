package io.pgvault.cli;

import io.pgvault.core.storage.server.BearerToken;
import picocli.CommandLine.Option;

import java.nio.file.Path;

/**
 * For the commands that read a repository ({@code info}, {@code verify}, {@code recover}):
 * through a pgvault server instead of {@code --repo}. The server shares the stored objects
 * read-only; every checksum is still checked by the command.
 */
public final class ServerSourceOptions {

    @Option(names = "--server", description = "Read the repository through a pgvault server instead of --repo (read-only; checksums "
            + "are still checked here).")
    String server;

    @Option(names = "--token", defaultValue = "${env:PGVAULT_TOKEN}", description = "The server's bearer token (env PGVAULT_TOKEN); "
            + "--token-file keeps it out of the process list.")
    String token;

    @Option(names = "--token-file", defaultValue = "${env:PGVAULT_TOKEN_FILE}", description = "A file (mode 0600) holding the server's "
            + "bearer token, alone or as 'Authorization: Bearer TOKEN' (env PGVAULT_TOKEN_FILE).")
    Path tokenFile;

    @Option(names = "--cacert", defaultValue = "${env:PGVAULT_CACERT}", description = "PEM certificates of the private CA that signed "
            + "an HTTPS server's certificate, trusted instead of the JDK's (env PGVAULT_CACERT); verification is never turned off.")
    Path caCert;

    boolean given() {
        return server != null && !server.isBlank();
    }

    /** The CA file, or null for the JDK's trust store. */
    Path caCert() {
        return caCert == null || caCert.toString().isBlank() ? null : caCert;
    }

    /** The token from --token-file, else --token / PGVAULT_TOKEN; null without one. */
    String token() {
        if (tokenFile != null && !tokenFile.toString().isBlank()) {
            return BearerToken.fromFile(tokenFile);
        }
        return token == null || token.isBlank() ? null : token;
    }
}
