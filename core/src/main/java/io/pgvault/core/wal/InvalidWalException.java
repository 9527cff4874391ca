package io.pgvault.core.wal;

/**
 * A WAL file (or its name) is not what it claims to be. The message names the file,
 * says what was found and what was expected; {@link #problem()} classifies it.
 */
public class InvalidWalException extends IllegalArgumentException {

    private final WalProblem problem;

    public InvalidWalException(WalProblem problem, String message) {
        super(message);
        this.problem = problem;
    }

    public WalProblem problem() {
        return problem;
    }
}
