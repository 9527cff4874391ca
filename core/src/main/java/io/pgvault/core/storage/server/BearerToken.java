package io.pgvault.core.storage.server;

import io.pgvault.core.util.SecretFile;

import java.nio.file.Path;
import java.util.Locale;

/**
 * A token for pgvault's API kept in a file (mode 0600), never in an argument: the file holds
 * either the bare token or the header line {@code Authorization: Bearer TOKEN}, so that one
 * file serves both {@code curl -H @FILE} in archive_command and pgvault's own commands.
 */
public final class BearerToken {

    private static final String HEADER = "authorization:";
    private static final String BEARER = "bearer ";

    private BearerToken() {
    }

    /** @throws IllegalArgumentException when the file cannot be read, others may read it, or it holds no token */
    public static String fromFile(Path file) {
        String text = SecretFile.read(file, "a pgvault token").strip();
        if (text.toLowerCase(Locale.ROOT).startsWith(HEADER)) {
            text = text.substring(HEADER.length()).strip();
            if (!text.toLowerCase(Locale.ROOT).startsWith(BEARER)) {
                throw new IllegalArgumentException(file + " holds an Authorization header that is not 'Bearer TOKEN'");
            }
            text = text.substring(BEARER.length()).strip();
        }
        if (text.isEmpty() || text.chars().anyMatch(c -> c <= ' ')) {
            throw new IllegalArgumentException(file + " holds no token: expected the token alone, or 'Authorization: Bearer TOKEN'");
        }
        return text;
    }

    /** The file's content for a token: the header line curl's {@code -H @FILE} sends as it is. */
    public static String fileContent(String token) {
        return "Authorization: Bearer " + token + "\n";
    }
}
