package io.pgvault.core.crypto;

import io.pgvault.core.repo.RepositoryFormat;
import io.pgvault.core.storage.ObjectStore;

import java.io.IOException;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * How every pgvault process opens a repository with the key its DBA gave it (or none):
 * the server, {@code recover}, {@code wal-fetch} and the other commands all come here, so
 * a wrong, missing or superfluous key gets the same clear answer everywhere.
 */
public final class RepositoryEncryption {

    private RepositoryEncryption() {
    }

    /**
     * The store to use for {@code stored}: itself for a repository in clear text (or none
     * yet), else an {@link EncryptingStore} holding the repository's data keys.
     *
     * @param keyFile the key or passphrase file, if one was given
     * @throws RepositoryKeyException for an encrypted repository without a key, a wrong key,
     *     or a key given for a repository in clear text
     */
    public static ObjectStore open(ObjectStore stored, Optional<Path> keyFile) throws IOException {
        Optional<RepositoryFormat.Descriptor> format = RepositoryFormat.check(stored);
        if (format.isEmpty() || !format.get().encrypted()) {
            if (keyFile.isPresent() && format.isPresent()) {
                throw new RepositoryKeyException("the repository at " + stored.describe() + " is not encrypted, but a key was given ("
                        + keyFile.get() + "): drop --key-file (PGVAULT_REPOSITORY_ENCRYPTION_KEY_FILE), or keep encrypted data in a new "
                        + "repository made with pgvault repo init --encrypt");
            }
            return stored;
        }
        EncryptionDescriptor encryption = format.get().encryption();
        if (keyFile.isEmpty()) {
            throw new RepositoryKeyException("the repository at " + stored.describe() + " is encrypted (key id " + encryption.keyId()
                    + "): give its key with --key-file FILE (or PGVAULT_REPOSITORY_ENCRYPTION_KEY_FILE; for the server "
                    + "pgvault.repository.encryption.key-file)");
        }
        return withKeys(stored, encryption, key(keyFile.get(), encryption));
    }

    /**
     * Creates an encrypted repository in an empty store, or opens the one there with this
     * key. {@code keyFile} holds a key made by {@link KeyEncryptionKey#generate} or a
     * passphrase.
     *
     * @throws RepositoryKeyException when the store holds a repository in clear text, or one encrypted with another key
     */
    public static ObjectStore initialize(ObjectStore stored, Path keyFile, String createdBy) throws IOException {
        Optional<RepositoryFormat.Descriptor> existing = RepositoryFormat.check(stored);
        if (existing.isEmpty()) {
            KeyEncryptionKey kek = read(keyFile, Optional.empty());
            EncryptionDescriptor.WrappedDataKey dataKey = wrapped(kek);
            EncryptionDescriptor encryption = new EncryptionDescriptor(EncryptionDescriptor.CIPHER, kek.id(), kek.derivation().orElse(null),
                    List.of(dataKey), dataKey.id());
            RepositoryFormat.initialize(stored, new RepositoryFormat.Descriptor(RepositoryFormat.ENCRYPTED, Instant.now().toString(), createdBy,
                    encryption));
        } else if (!existing.get().encrypted()) {
            throw new RepositoryKeyException("the repository at " + stored.describe() + " exists and is not encrypted: pgvault does not "
                    + "encrypt a repository in place; make an encrypted one at another URL or prefix and take new backups there");
        }
        return open(stored, Optional.of(keyFile));
    }

    /**
     * Replaces the key-encryption key: every data key is unwrapped with the old key and
     * wrapped with the new one, and the format object is replaced in one put. No data
     * object changes, so a rotation cut short leaves the repository readable with the
     * old key, and a finished one with the new key only.
     *
     * @return the new key's id
     */
    public static String rotate(ObjectStore stored, Path oldKeyFile, Path newKeyFile) throws IOException {
        RepositoryFormat.Descriptor format = RepositoryFormat.require(stored);
        if (!format.encrypted()) {
            throw new RepositoryKeyException("the repository at " + stored.describe() + " is not encrypted: there is no key to rotate");
        }
        EncryptionDescriptor encryption = format.encryption();
        KeyEncryptionKey old = key(oldKeyFile, encryption);
        KeyEncryptionKey fresh = read(newKeyFile, Optional.empty());
        if (fresh.id().equals(old.id())) {
            throw new RepositoryKeyException(newKeyFile + " holds the key the repository already uses (key id " + old.id() + ")");
        }
        List<EncryptionDescriptor.WrappedDataKey> rewrapped = new ArrayList<>();
        try {
            for (EncryptionDescriptor.WrappedDataKey dataKey : encryption.dataKeys()) {
                rewrapped.add(DataKey.wrap(dataKey.id(), DataKey.unwrapBytes(dataKey, old), fresh));
            }
        } catch (GeneralSecurityException e) {
            throw new RepositoryKeyException("a data key of " + stored.describe() + " does not unwrap with key id " + old.id()
                    + ": the format object was changed; nothing was rotated");
        }
        RepositoryFormat.replace(stored, new RepositoryFormat.Descriptor(format.formatVersion(), format.createdAt(), format.createdBy(),
                new EncryptionDescriptor(encryption.cipher(), fresh.id(), fresh.derivation().orElse(null), rewrapped, encryption.activeDataKey())));
        return fresh.id();
    }

    /** Writes a new random key to {@code file} (0600), unless a file is there. */
    public static void generateKey(Path file) throws IOException {
        KeyEncryptionKey.generate(file);
    }

    private static KeyEncryptionKey key(Path keyFile, EncryptionDescriptor encryption) throws RepositoryKeyException {
        if (!EncryptionDescriptor.CIPHER.equals(encryption.cipher())) {
            throw new RepositoryKeyException("the repository is encrypted with cipher " + encryption.cipher() + ", which this pgvault does "
                    + "not know; use the pgvault version that wrote it");
        }
        KeyEncryptionKey kek = read(keyFile, Optional.ofNullable(encryption.kdf()));
        if (!kek.id().equals(encryption.keyId())) {
            throw new RepositoryKeyException("this repository is encrypted with key id " + encryption.keyId() + "; the key given (" + keyFile
                    + ") is key id " + kek.id() + ": give the repository's key (after a rotate-key, the new one)");
        }
        return kek;
    }

    private static KeyEncryptionKey read(Path keyFile, Optional<KeyEncryptionKey.Argon2id> derivation) throws RepositoryKeyException {
        try {
            return KeyEncryptionKey.read(keyFile, derivation);
        } catch (IllegalArgumentException e) {
            throw new RepositoryKeyException(e.getMessage());
        }
    }

    private static EncryptionDescriptor.WrappedDataKey wrapped(KeyEncryptionKey kek) {
        try {
            return DataKey.create(kek);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("cannot make a data key: " + e.getMessage(), e);
        }
    }

    private static ObjectStore withKeys(ObjectStore stored, EncryptionDescriptor encryption, KeyEncryptionKey kek) throws IOException {
        Map<String, DataKey> keys = new HashMap<>();
        try {
            for (EncryptionDescriptor.WrappedDataKey wrapped : encryption.dataKeys()) {
                keys.put(wrapped.id(), DataKey.unwrap(wrapped, kek));
            }
        } catch (GeneralSecurityException e) {
            throw new RepositoryKeyException("the data keys of " + stored.describe() + " do not unwrap with key id " + kek.id()
                    + ", although that is the repository's key id: its format object was changed");
        }
        if (!keys.containsKey(encryption.activeDataKey())) {
            throw new RepositoryKeyException("the format object of " + stored.describe() + " names data key " + encryption.activeDataKey()
                    + " as active but does not hold it: it was changed");
        }
        return new EncryptingStore(stored, keys, encryption.activeDataKey());
    }
}
