package io.pgvault.restore;

/**
 * A recovery that pgvault will not start, with the reason and what the DBA can do (for
 * example the recovery window when a target lies outside it). Nothing has been written.
 */
public class RecoveryRefusedException extends RuntimeException {

    public RecoveryRefusedException(String message) {
        super(message);
    }
}
