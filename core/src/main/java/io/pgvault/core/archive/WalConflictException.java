package io.pgvault.core.archive;

/**
 * A WAL file arrived under a name the repository already holds with other content.
 * Nothing was overwritten; the message gives both checksums.
 */
public class WalConflictException extends RuntimeException {

    private final String existingSha256;
    private final String arrivingSha256;

    public WalConflictException(String message, String existingSha256, String arrivingSha256) {
        super(message);
        this.existingSha256 = existingSha256;
        this.arrivingSha256 = arrivingSha256;
    }

    public String existingSha256() {
        return existingSha256;
    }

    public String arrivingSha256() {
        return arrivingSha256;
    }
}
