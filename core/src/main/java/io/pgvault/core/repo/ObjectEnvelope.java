package io.pgvault.core.repo;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.pgvault.core.compress.Codec;
import io.pgvault.core.compress.Codecs;
import io.pgvault.core.crypto.EncryptingStore;
import io.pgvault.core.crypto.RepositoryKeyException;
import io.pgvault.core.storage.ObjectStore;
import io.pgvault.core.util.Sha256;

import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.SequenceInputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * The self-describing wrapper around every stored object (see docs/repository-format.md):
 *
 * <pre>
 *   "PGVOBJ"            6 bytes magic
 *   version             1 byte: 1, or 2 when the header has no SHA-256 of the raw bytes
 *   reserved            1 byte, 0
 *   header length N     4 bytes, big-endian, at most 64 KiB
 *   header              N bytes of UTF-8 JSON ({@link ObjectHeader})
 *   payload             the raw bytes, compressed with the header's codec
 * </pre>
 *
 * The header comes first so a reader learns codec and checksum before the payload, and
 * a listing plus one small read per object is enough to rebuild a catalog.
 */
public final class ObjectEnvelope {

    /** The newest envelope version this pgvault reads and writes. */
    public static final int VERSION = 2;
    private static final int VERSION_WITH_RAW_SHA256 = 1;
    private static final byte[] MAGIC = "PGVOBJ".getBytes(StandardCharsets.US_ASCII);
    private static final int MAX_HEADER = 64 * 1024;
    /** Only writers need the object mapper; readers (restore_command) skip loading it. */
    private static final class Json {
        static final ObjectMapper MAPPER = new ObjectMapper();
    }

    private ObjectEnvelope() {
    }

    /** An object's header and its still-compressed payload stream. */
    public record Opened(String key, ObjectHeader header, InputStream payload) implements AutoCloseable {

        /**
         * The raw content: decompressed, and checked against the header's length and
         * SHA-256 (of the raw bytes, or of the stored payload, which is then read to its end)
         * as it streams; a mismatch fails the final read with {@link CorruptObjectException}.
         */
        public InputStream content() throws IOException {
            if (!ObjectHeader.NO_ENCRYPTION.equals(header.encryption())) {
                throw new UnsupportedFormatException(key + " is encrypted with '" + header.encryption()
                        + "', which this pgvault cannot decrypt; use the pgvault version that wrote it");
            }
            Codec codec;
            try {
                codec = Codecs.parse(header.codec());
            } catch (IllegalArgumentException e) {
                throw new UnsupportedFormatException(key + " is compressed with '" + header.codec()
                        + "', which this pgvault does not know; use a newer pgvault");
            }
            if (header.payloadSha256() != null) {
                return VerifyingInputStream.ofPayload(codec, payload, key, header.rawSize(), header.payloadSha256());
            }
            return VerifyingInputStream.ofContent(codec, payload, key, header.rawSize(), header.sha256());
        }

        @Override
        public void close() throws IOException {
            payload.close();
        }
    }

    /** The bytes that precede the payload of an object with this header. */
    public static byte[] prefix(ObjectHeader header) {
        try {
            byte[] json = Json.MAPPER.writeValueAsBytes(header);
            ByteArrayOutputStream bytes = new ByteArrayOutputStream(json.length + 12);
            DataOutputStream out = new DataOutputStream(bytes);
            out.write(MAGIC);
            // Version 1 where it suffices, so older readers keep reading everything they can check.
            out.writeByte(header.sha256() == null ? VERSION : VERSION_WITH_RAW_SHA256);
            out.writeByte(0);
            out.writeInt(json.length);
            out.write(json);
            return bytes.toByteArray();
        } catch (IOException e) {
            throw new IllegalStateException("cannot serialise object header", e);
        }
    }

    /**
     * Stores header plus an already compressed payload file under {@code key}; the header
     * gets the payload's SHA-256 unless it has it already (then the file is read once more
     * for it: writers that can, hash the payload on its way into the file instead).
     *
     * @param onlyIfAbsent use the store's conditional create
     * @return the stored object's size in bytes, or -1 when {@code onlyIfAbsent} and an
     *     object existed (nothing written); callers need no second request to learn it
     */
    public static long store(ObjectStore store, String key, ObjectHeader header, Path payload, boolean onlyIfAbsent) throws IOException {
        if (header.payloadSha256() == null) {
            header = header.withPayloadSha256(Sha256.ofFile(payload));
        }
        byte[] prefix = prefix(header);
        long length = prefix.length + Files.size(payload);
        // Opened again for each try, so a store can retry the upload after a transient failure.
        ObjectStore.Body body = () -> new SequenceInputStream(new java.io.ByteArrayInputStream(prefix), Files.newInputStream(payload));
        if (onlyIfAbsent) {
            return store.putIfAbsent(key, body, length) ? length : -1;
        }
        store.put(key, body, length);
        return length;
    }

    /**
     * Reads an object's envelope from the start of its stored bytes.
     *
     * @throws CorruptObjectException when the bytes are not a pgvault object
     * @throws UnsupportedFormatException when a newer pgvault wrote it
     */
    public static Opened open(String key, InputStream stored) throws IOException {
        DataInputStream in = new DataInputStream(stored);
        try {
            byte[] magic = new byte[MAGIC.length];
            in.readFully(magic);
            if (Arrays.equals(magic, EncryptingStore.MAGIC)) {
                throw new RepositoryKeyException(key + " is encrypted: the repository is an encrypted one; give its key with --key-file FILE "
                        + "(or PGVAULT_REPOSITORY_ENCRYPTION_KEY_FILE)");
            }
            if (!Arrays.equals(magic, MAGIC)) {
                throw new CorruptObjectException(key + " is not a pgvault object: it does not start with PGVOBJ (damaged, or written by another tool)");
            }
            int version = in.readUnsignedByte();
            in.readUnsignedByte();
            if (version > VERSION) {
                throw new UnsupportedFormatException(key + " uses object envelope version " + version
                        + ", this pgvault reads up to version " + VERSION + "; upgrade pgvault");
            }
            int length = in.readInt();
            if (length <= 0 || length > MAX_HEADER) {
                throw new CorruptObjectException(key + " declares a header of " + length + " bytes; expected 1 to " + MAX_HEADER + " (damaged object)");
            }
            byte[] json = new byte[length];
            in.readFully(json);
            ObjectHeader header;
            try {
                header = ObjectHeader.parse(json);
            } catch (IOException | IllegalArgumentException e) {
                throw new CorruptObjectException(key + " has an unreadable header: " + e.getMessage(), e);
            }
            return new Opened(key, header, stored);
        } catch (EOFException e) {
            stored.close();
            throw new CorruptObjectException(key + " ends inside its header: the object is truncated", e);
        } catch (IOException e) {
            stored.close();
            throw e;
        }
    }

    /**
     * Reads a stored object to its end, so its checksum and compression are checked, and
     * keeps nothing: for verifying without restoring.
     *
     * @throws CorruptObjectException naming the key when the object is missing or damaged
     */
    public static void verify(ObjectStore store, String key) throws IOException {
        InputStream stored = store.get(key).orElseThrow(() -> new CorruptObjectException(key + " is missing from the repository"));
        try (Opened opened = open(key, stored); InputStream content = opened.content()) {
            content.transferTo(java.io.OutputStream.nullOutputStream());
        }
    }

    /** Reads only the header of a stored object, or empty when it does not exist. */
    public static java.util.Optional<ObjectHeader> readHeader(ObjectStore store, String key) throws IOException {
        java.util.Optional<InputStream> stored = store.get(key);
        if (stored.isEmpty()) {
            return java.util.Optional.empty();
        }
        try (Opened opened = open(key, stored.get())) {
            return java.util.Optional.of(opened.header());
        }
    }
}
