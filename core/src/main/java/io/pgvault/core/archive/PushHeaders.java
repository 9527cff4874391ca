package io.pgvault.core.archive;

/**
 * The request headers of {@code PUT /v1/clusters/{cluster}/wal/{file}} beyond the plain body
 * curl sends: what {@code pgvault wal-push} and the server agree on.
 * <ul>
 *   <li>A body of zstd frames: {@value #ENCODING}: {@value #ZSTD} and {@value #RAW_LENGTH}
 *       ({@link ZstdUpload}).</li>
 *   <li>A push by reference, no body: {@value #SHA256} and {@value #RAW_LENGTH}; 200 when the
 *       repository holds exactly that file, else 412 and the sender sends it
 *       ({@link WalArchiver#confirm}).</li>
 * </ul>
 */
public final class PushHeaders {

    /** Names the encoding of a body that is not the file itself; only {@value #ZSTD} is read. */
    public static final String ENCODING = "X-Pgvault-Encoding";
    /** The one encoding: zstd frames of the file. */
    public static final String ZSTD = "zstd";
    /** The file's own length, which an encoded body or a push by reference must announce: a cut upload is told from a short file by it. */
    public static final String RAW_LENGTH = "X-Pgvault-Raw-Length";
    /** A push by reference: the file's SHA-256 (64 hex digits). */
    public static final String SHA256 = "X-Pgvault-Sha256";

    private PushHeaders() {
    }
}
