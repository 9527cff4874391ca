package io.pgvault.core.crypto;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonInclude;

import java.util.List;

/**
 * The encryption block of the format object, the one object an encrypted repository keeps
 * in clear: which cipher, which key-encryption key (by fingerprint), how a passphrase is
 * stretched, and the data keys wrapped by that key. Nothing here reveals a key.
 *
 * @param kdf Argon2id's inputs when the key comes from a passphrase, else null
 * @param activeDataKey the data key new objects are written with
 */
@JsonIgnoreProperties(ignoreUnknown = true)
@JsonInclude(JsonInclude.Include.NON_NULL)
public record EncryptionDescriptor(String cipher, String keyId, KeyEncryptionKey.Argon2id kdf, List<WrappedDataKey> dataKeys,
                                   String activeDataKey) {

    /** The only cipher so far: Tink's streaming AEAD, AES-256-GCM with HKDF-SHA256 per-object keys, 64 KiB segments. */
    public static final String CIPHER = "AES256_GCM_HKDF_SHA256_64KB";

    /** A data key, encrypted (AES-256-GCM) with the key-encryption key; its id is bound in as associated data. */
    @JsonIgnoreProperties(ignoreUnknown = true)
    public record WrappedDataKey(String id, String wrapped) {
    }
}
