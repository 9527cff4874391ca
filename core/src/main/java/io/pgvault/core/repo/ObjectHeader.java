package io.pgvault.core.repo;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonInclude;

/**
 * What every pgvault object says about itself, so the repository alone explains its
 * content: what it is, how big and which SHA-256 the raw (uncompressed, unencrypted)
 * bytes have, how they were compressed and encrypted, and which cluster and timeline
 * they belong to. Unknown fields are ignored, so later versions can add some.
 *
 * @param kind {@code wal}, {@code history}, {@code backup-label}, {@code partial}, {@code backup-piece}, ...
 * @param name the name the content had at its source (the WAL file name, the piece name)
 * @param rawSize length of the raw bytes
 * @param sha256 hex SHA-256 of the raw bytes
 * @param codec compression of the payload ({@code zstd}, {@code lz4}, {@code none})
 * @param encryption {@code none}; room for client-side encryption schemes
 * @param systemIdentifier the cluster's system identifier, unsigned decimal, or null
 * @param timeline the timeline the content belongs to, or 0 when none applies
 * @param segmentSize the cluster's {@code wal_segment_size}, or 0 when none applies
 * @param writer which pgvault instance wrote the object (several may share a bucket)
 * @param createdAt ISO-8601 time the object was written
 * @param pgMajor the PostgreSQL major that wrote the content (from the WAL page magic), or null
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
@JsonIgnoreProperties(ignoreUnknown = true)
public record ObjectHeader(
        String kind,
        String name,
        long rawSize,
        String sha256,
        String codec,
        String encryption,
        String systemIdentifier,
        long timeline,
        long segmentSize,
        String writer,
        String createdAt,
        Integer pgMajor) {

    public static final String NO_ENCRYPTION = "none";

    public ObjectHeader {
        if (kind == null || name == null || sha256 == null || codec == null) {
            throw new IllegalArgumentException("object header needs kind, name, sha256 and codec");
        }
        if (sha256.length() != 64) {
            throw new IllegalArgumentException("object header sha256 '" + sha256 + "' is not 64 hex digits");
        }
        if (rawSize < 0) {
            throw new IllegalArgumentException("object header raw size " + rawSize + " is negative");
        }
        if (encryption == null) {
            encryption = NO_ENCRYPTION;
        }
    }
}
