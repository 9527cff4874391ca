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
 * @param sha256Of what {@code sha256} covers: null for the raw bytes, {@value #SHA256_OF_PAYLOAD} for the
 *     payload as stored (compressed). Backup pieces use the latter: hashing hundreds of MiB of raw data
 *     cost a base backup a third of its time, and the stored bytes determine the raw ones (the codec's
 *     own frame checksum guards the decompression). Objects with it are written in envelope version 2,
 *     so an older pgvault refuses them instead of reporting damage.
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
        Integer pgMajor,
        String sha256Of) {

    public static final String NO_ENCRYPTION = "none";
    public static final String SHA256_OF_PAYLOAD = "payload";

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
        if (sha256Of != null && !sha256Of.equals(SHA256_OF_PAYLOAD)) {
            throw new IllegalArgumentException("object header sha256Of '" + sha256Of + "' is unknown: expected '" + SHA256_OF_PAYLOAD + "' or none");
        }
    }

    /** A header whose SHA-256 covers the raw bytes. */
    public ObjectHeader(String kind, String name, long rawSize, String sha256, String codec, String encryption, String systemIdentifier,
            long timeline, long segmentSize, String writer, String createdAt, Integer pgMajor) {
        this(kind, name, rawSize, sha256, codec, encryption, systemIdentifier, timeline, segmentSize, writer, createdAt, pgMajor, null);
    }

    /** True when {@code sha256} covers the stored payload rather than the raw bytes. */
    public boolean sha256OfPayload() {
        return SHA256_OF_PAYLOAD.equals(sha256Of);
    }

    private static final com.fasterxml.jackson.core.JsonFactory STREAMING = new com.fasterxml.jackson.core.JsonFactory();

    /**
     * Reads a header with Jackson's streaming parser rather than its object mapper: every
     * restore_command call that misses the prefetch spool starts a JVM and reads one header,
     * and the object mapper alone costs it about a quarter of a second of class loading.
     * Unknown fields are skipped, as with the mapper.
     */
    public static ObjectHeader parse(byte[] json) throws java.io.IOException {
        String kind = null, name = null, sha256 = null, codec = null, encryption = null, systemIdentifier = null, writer = null,
                createdAt = null, sha256Of = null;
        long rawSize = -1, timeline = 0, segmentSize = 0;
        Integer pgMajor = null;
        try (com.fasterxml.jackson.core.JsonParser p = STREAMING.createParser(json)) {
            if (p.nextToken() != com.fasterxml.jackson.core.JsonToken.START_OBJECT) {
                throw new java.io.IOException("the header is not a JSON object");
            }
            while (p.nextToken() == com.fasterxml.jackson.core.JsonToken.FIELD_NAME) {
                String field = p.currentName();
                com.fasterxml.jackson.core.JsonToken value = p.nextToken();
                if (value == com.fasterxml.jackson.core.JsonToken.VALUE_NULL) {
                    continue;
                }
                switch (field) {
                    case "kind" -> kind = p.getValueAsString();
                    case "name" -> name = p.getValueAsString();
                    case "rawSize" -> rawSize = p.getLongValue();
                    case "sha256" -> sha256 = p.getValueAsString();
                    case "codec" -> codec = p.getValueAsString();
                    case "encryption" -> encryption = p.getValueAsString();
                    case "systemIdentifier" -> systemIdentifier = p.getValueAsString();
                    case "timeline" -> timeline = p.getLongValue();
                    case "segmentSize" -> segmentSize = p.getLongValue();
                    case "writer" -> writer = p.getValueAsString();
                    case "createdAt" -> createdAt = p.getValueAsString();
                    case "pgMajor" -> pgMajor = p.getIntValue();
                    case "sha256Of" -> sha256Of = p.getValueAsString();
                    default -> p.skipChildren();
                }
            }
        }
        return new ObjectHeader(kind, name, rawSize, sha256, codec, encryption, systemIdentifier, timeline, segmentSize, writer, createdAt,
                pgMajor, sha256Of);
    }
}
