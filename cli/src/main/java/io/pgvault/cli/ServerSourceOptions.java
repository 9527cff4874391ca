package io.pgvault.cli;

import picocli.CommandLine.Option;

/**
 * For the commands that read a repository ({@code info}, {@code verify}, {@code recover}):
 * through a pgvault server instead of {@code --repo}. The server shares the stored objects
 * read-only; every checksum is still checked by the command.
 */
public final class ServerSourceOptions {

    @Option(names = "--server", description = "Read the repository through a pgvault server instead of --repo (read-only; checksums "
            + "are still checked here).")
    String server;

    @Option(names = "--token", defaultValue = "${env:PGVAULT_TOKEN}", description = "The server's bearer token (env PGVAULT_TOKEN).")
    String token;

    boolean given() {
        return server != null && !server.isBlank();
    }
}
