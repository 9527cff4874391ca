package io.pgvault.restore;

/**
 * What a command names is not in the repository: no repository at that URL, no such cluster,
 * no such backup. Scripts tell it from a damaged or unreachable repository by its exit code.
 */
public final class NotInRepositoryException extends RecoveryRefusedException {

    public NotInRepositoryException(String message) {
        super(message);
    }
}
