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
 * @param sha256 hex SHA-256 of the raw bytes, or null when only the payload's is known
 * @param codec compression of the payload ({@code zstd}, {@code lz4}, {@code none})
 * @param encryption {@code none}; room for client-side encryption schemes
 * @param systemIdentifier the cluster's system identifier, unsigned decimal, or null
 * @param timeline the timeline the content belongs to, or 0 when none applies
 * @param segmentSize the cluster's {@code wal_segment_size}, or 0 when none applies
 * @param writer which pgvault instance wrote the object (several may share a bucket)
 * @param createdAt ISO-8601 time the object was written
 * @param pgMajor the PostgreSQL major that wrote the content (from the WAL page magic), or null
 * @param payloadSha256 hex SHA-256 of the payload as stored (compressed), or null (objects written before
 *     it existed). Readers check this one when present: it is a tenth of the data to hash, and the stored
 *     bytes determine the raw ones (the codec's frame checksum guards the decompression). WAL keeps
 *     {@code sha256} too, to tell a duplicate push from a conflicting one; backup pieces have only this
 *     one (hashing every raw byte cost a base backup a third of its time) and are written in envelope
 *     version 2, so an older pgvault refuses them instead of reporting damage.
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
        String payloadSha256) {

    public static final String NO_ENCRYPTION = "none";

    public ObjectHeader {
        if (kind == null || name == null || codec == null || (sha256 == null && payloadSha256 == null)) {
            throw new IllegalArgumentException("object header needs kind, name, codec and sha256 or payloadSha256");
        }
        if (sha256 != null && sha256.length() != 64) {
            throw new IllegalArgumentException("object header sha256 '" + sha256 + "' is not 64 hex digits");
        }
        if (payloadSha256 != null && payloadSha256.length() != 64) {
            throw new IllegalArgumentException("object header payloadSha256 '" + payloadSha256 + "' is not 64 hex digits");
        }
        if (rawSize < 0) {
            throw new IllegalArgumentException("object header raw size " + rawSize + " is negative");
        }
        if (encryption == null) {
            encryption = NO_ENCRYPTION;
        }
    }

    /** A header with the SHA-256 of the raw bytes; {@link ObjectEnvelope#store} adds the payload's. */
    public ObjectHeader(String kind, String name, long rawSize, String sha256, String codec, String encryption, String systemIdentifier,
            long timeline, long segmentSize, String writer, String createdAt, Integer pgMajor) {
        this(kind, name, rawSize, sha256, codec, encryption, systemIdentifier, timeline, segmentSize, writer, createdAt, pgMajor, null);
    }

    public ObjectHeader withPayloadSha256(String sha) {
        return new ObjectHeader(kind, name, rawSize, sha256, codec, encryption, systemIdentifier, timeline, segmentSize, writer, createdAt,
                pgMajor, sha);
    }

    /** The checksum readers verify: the payload's when known, else the raw bytes'. */
    public String checksum() {
        return payloadSha256 != null ? payloadSha256 : sha256;
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
                createdAt = null, payloadSha256 = null;
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
                    case "payloadSha256" -> payloadSha256 = p.getValueAsString();
                    default -> p.skipChildren();
                }
            }
        }
        return new ObjectHeader(kind, name, rawSize, sha256, codec, encryption, systemIdentifier, timeline, segmentSize, writer, createdAt,
                pgMajor, payloadSha256);
    }
}
