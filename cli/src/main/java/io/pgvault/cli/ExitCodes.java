package io.pgvault.cli;

import io.pgvault.core.repo.NoRepositoryException;
import io.pgvault.core.storage.StorageUnavailableException;
import io.pgvault.restore.NotInRepositoryException;

import java.net.ConnectException;
import java.net.SocketTimeoutException;

/**
 * pgvault's exit codes, one table for every command (docs/troubleshooting.md, "Exit codes"),
 * so a script can tell "fix the input" from "it is not there" from "try again later".
 * {@code wal-fetch} keeps PostgreSQL's own convention (0 found, 1 not archived, above 125
 * stop recovery) and {@code check} Nagios's (0 OK, 1 WARNING, 2 CRITICAL).
 */
final class ExitCodes {

    static final int OK = 0;
    /** The command ran and found problems, or could not do what was asked (a refusal, a failed backup). */
    static final int FAILED = 1;
    /** An unknown option or a bad value: picocli's convention. */
    static final int USAGE = 2;
    /** The cluster, backup or repository the command names does not exist. */
    static final int NOT_FOUND = 3;
    /** The pgvault server or the repository could not be reached (refused, timed out, TLS, 502-504): try again later. */
    static final int UNREACHABLE = 4;

    private ExitCodes() {
    }

    static int of(Throwable failure) {
        for (Throwable t = failure; t != null; t = t.getCause()) {
            if (t instanceof ServerClient.UnreachableException || t instanceof StorageUnavailableException
                    || t instanceof ConnectException || t instanceof SocketTimeoutException) {
                return UNREACHABLE;
            }
            if (t instanceof ServerClient.NotFoundException || t instanceof NotInRepositoryException || t instanceof NoRepositoryException) {
                return NOT_FOUND;
            }
            if (t instanceof picocli.CommandLine.ParameterException || t instanceof UsageException) {
                return USAGE;
            }
        }
        return FAILED;
    }
}
