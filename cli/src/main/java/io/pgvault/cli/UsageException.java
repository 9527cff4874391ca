package io.pgvault.cli;

/** Options that do not fit together, found after parsing: a usage error (exit code 2), like picocli's own. */
final class UsageException extends IllegalArgumentException {

    UsageException(String message) {
        super(message);
    }
}
