package io.pgvault.core.crypto;

import com.google.crypto.tink.subtle.AesGcmHkdfStreaming;
import com.google.crypto.tink.subtle.AesGcmJce;

import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.HexFormat;

/**
 * A repository's data key: what objects are encrypted with, through Tink's streaming AEAD
 * (each object gets its own key derived by HKDF from this one and a random salt; each
 * 64 KiB segment is authenticated with its position, and the last is marked, so reordering
 * and truncation are caught). Stored only wrapped (AES-256-GCM) by the
 * {@link KeyEncryptionKey}, with its id bound in as associated data.
 */
final class DataKey {

    /**
     * 64 KiB ciphertext segments: a tag (16 bytes) per segment is 0.02%, and many segments per
     * object let the JIT compile the AES-GCM path within the first objects (with 1 MiB segments
     * a fresh server ran a hundred segments slower while it was still interpreted).
     */
    static final int SEGMENT_BYTES = 64 << 10;
    private static final SecureRandom RANDOM = new SecureRandom();

    private final String id;
    private final AesGcmHkdfStreaming streaming;

    private DataKey(String id, byte[] key) throws GeneralSecurityException {
        this.id = id;
        this.streaming = new AesGcmHkdfStreaming(key, "HmacSha256", 32, SEGMENT_BYTES, 0);
    }

    String id() {
        return id;
    }

    AesGcmHkdfStreaming streaming() {
        return streaming;
    }

    /** A new random data key, returned wrapped by {@code kek}: the raw bytes are never kept anywhere else. */
    static EncryptionDescriptor.WrappedDataKey create(KeyEncryptionKey kek) throws GeneralSecurityException {
        byte[] key = new byte[32];
        RANDOM.nextBytes(key);
        byte[] id = new byte[8];
        RANDOM.nextBytes(id);
        return wrap(HexFormat.of().formatHex(id), key, kek);
    }

    static EncryptionDescriptor.WrappedDataKey wrap(String id, byte[] key, KeyEncryptionKey kek) throws GeneralSecurityException {
        byte[] wrapped = new AesGcmJce(kek.bytes()).encrypt(key, associatedData(id));
        return new EncryptionDescriptor.WrappedDataKey(id, Base64.getEncoder().encodeToString(wrapped));
    }

    /** @throws GeneralSecurityException when {@code kek} is not the key that wrapped it, or the wrapped bytes were changed */
    static byte[] unwrapBytes(EncryptionDescriptor.WrappedDataKey wrapped, KeyEncryptionKey kek) throws GeneralSecurityException {
        return new AesGcmJce(kek.bytes()).decrypt(Base64.getDecoder().decode(wrapped.wrapped()), associatedData(wrapped.id()));
    }

    static DataKey unwrap(EncryptionDescriptor.WrappedDataKey wrapped, KeyEncryptionKey kek) throws GeneralSecurityException {
        return new DataKey(wrapped.id(), unwrapBytes(wrapped, kek));
    }

    private static byte[] associatedData(String id) {
        return ("pgvault data key " + id).getBytes(StandardCharsets.US_ASCII);
    }
}
