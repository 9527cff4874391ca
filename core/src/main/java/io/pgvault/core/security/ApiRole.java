package io.pgvault.core.security;

import java.util.Locale;

/**
 * What a token of pgvault's API may do, least to most. A role never implies another's
 * clusters: the clusters are the token's own ({@link ApiTokenEntry#clusters()}).
 */
public enum ApiRole {
    /** Push and fetch WAL: what {@code archive_command} and a curl {@code restore_command} need. */
    ARCHIVE,
    /** Read-only: WAL, backups, listings and the repository's objects, what {@code recover --server} needs. */
    READ,
    /** Everything: clusters, backups, expiry, catalog rebuild, management endpoints. */
    ADMIN;

    /** The spelling in the tokens file and on the command line. */
    public String word() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** @throws IllegalArgumentException naming the roles there are */
    public static ApiRole parse(String word) {
        for (ApiRole role : values()) {
            if (role.word().equals(word)) {
                return role;
            }
        }
        throw new IllegalArgumentException("'" + word + "' is not a role: expected archive, read or admin");
    }
}
