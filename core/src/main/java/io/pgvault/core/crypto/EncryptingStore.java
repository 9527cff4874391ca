package io.pgvault.core.crypto;

import io.pgvault.core.repo.CorruptObjectException;
import io.pgvault.core.repo.RepositoryFormat;
import io.pgvault.core.storage.ObjectStat;
import io.pgvault.core.storage.ObjectStore;
import io.pgvault.core.storage.StorageFeature;
import io.pgvault.core.util.SingleByte;

import java.io.DataInputStream;
import java.io.EOFException;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.util.Arrays;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * An encrypted repository, seen through its key: every object except the format object
 * is encrypted on its way to the store and decrypted and authenticated on its way back,
 * so everything above the store (WAL, history files, backup pieces, manifests, cluster
 * descriptors, streamed heads) is encrypted without knowing it. Stored objects are
 *
 * <pre>
 *   "PGVENC"   6 bytes magic
 *   version    1 byte: 1
 *   id length  1 byte, then the data key's id (ASCII)
 *   Tink streaming AEAD ciphertext, associated data "pgvault object KEY DATAKEYID"
 * </pre>
 *
 * The object's key is associated data, so an object copied under another name (or from
 * another repository) fails authentication, as do a changed byte, reordered segments and
 * a truncation; an object without the magic (written around pgvault, or a downgrade to
 * clear text) is refused.
 */
public final class EncryptingStore implements ObjectStore {

    /** What every encrypted object starts with (a reader without the key recognizes it by this). */
    public static final byte[] MAGIC = "PGVENC".getBytes(StandardCharsets.US_ASCII);
    private static final int VERSION = 1;

    private final ObjectStore stored;
    private final Map<String, DataKey> keys;
    private final DataKey active;

    EncryptingStore(ObjectStore stored, Map<String, DataKey> keys, String active) {
        this.stored = stored;
        this.keys = Map.copyOf(keys);
        this.active = keys.get(active);
    }

    /** The store underneath, whose objects are the ciphertext (what a server hands to clients that hold the key). */
    public ObjectStore stored() {
        return stored;
    }

    private static boolean clear(String key) {
        return key.equals(RepositoryFormat.KEY);
    }

    @Override
    public void put(String key, InputStream data, long length) throws IOException {
        if (clear(key)) {
            stored.put(key, data, length);
            return;
        }
        try (InputStream encrypted = encrypt(key, data)) {
            stored.put(key, encrypted, ciphertextLength(length));
        }
    }

    @Override
    public void put(String key, Body body, long length) throws IOException {
        if (clear(key)) {
            stored.put(key, body, length);
            return;
        }
        // Each try encrypts afresh (a new data key and nonce): the ciphertext differs, its length does not.
        stored.put(key, () -> encrypt(key, body.open()), ciphertextLength(length));
    }

    @Override
    public boolean putIfAbsent(String key, Body body, long length) throws IOException {
        if (clear(key)) {
            return stored.putIfAbsent(key, body, length);
        }
        return stored.putIfAbsent(key, () -> encrypt(key, body.open()), ciphertextLength(length));
    }

    @Override
    public void putFile(String key, Path file) throws IOException {
        put(key, () -> Files.newInputStream(file), Files.size(file));
    }

    @Override
    public boolean putIfAbsent(String key, InputStream data, long length) throws IOException {
        if (clear(key)) {
            return stored.putIfAbsent(key, data, length);
        }
        try (InputStream encrypted = encrypt(key, data)) {
            return stored.putIfAbsent(key, encrypted, ciphertextLength(length));
        }
    }

    @Override
    public Optional<InputStream> get(String key) throws IOException {
        Optional<InputStream> in = stored.get(key);
        if (in.isEmpty() || clear(key)) {
            return in;
        }
        return Optional.of(decrypt(key, in.get()));
    }

    private byte[] prefix() {
        byte[] id = active.id().getBytes(StandardCharsets.US_ASCII);
        byte[] prefix = Arrays.copyOf(MAGIC, MAGIC.length + 2 + id.length);
        prefix[MAGIC.length] = VERSION;
        prefix[MAGIC.length + 1] = (byte) id.length;
        System.arraycopy(id, 0, prefix, MAGIC.length + 2, id.length);
        return prefix;
    }

    /** What Tink's streaming AEAD makes of {@code plaintext} bytes with the active data key (without pgvault's prefix). */
    long activeCiphertextSize(long plaintext) {
        return active.streaming().expectedCiphertextSize(plaintext);
    }

    private long ciphertextLength(long plaintext) {
        return plaintext < 0 ? -1 : prefix().length + active.streaming().expectedCiphertextSize(plaintext);
    }

    private InputStream encrypt(String key, InputStream data) throws IOException {
        byte[] aad = associatedData(key, active.id());
        return new EncryptingInputStream(data, prefix(), out -> {
            try {
                return active.streaming().newEncryptingStream(out, aad);
            } catch (GeneralSecurityException e) {
                throw new IOException("cannot encrypt " + key + ": " + e.getMessage(), e);
            }
        });
    }

    private InputStream decrypt(String key, InputStream ciphertext) throws IOException {
        DataKey dataKey;
        try {
            DataInputStream in = new DataInputStream(ciphertext);
            byte[] magic = new byte[MAGIC.length];
            in.readFully(magic);
            if (!Arrays.equals(magic, MAGIC)) {
                throw new CorruptObjectException(key + " is not encrypted, but this repository is: refused (an object written around pgvault, "
                        + "or one changed to clear text)");
            }
            int version = in.readUnsignedByte();
            if (version != VERSION) {
                throw new CorruptObjectException(key + " uses encrypted-object version " + version + "; this pgvault reads version " + VERSION);
            }
            byte[] id = new byte[in.readUnsignedByte()];
            in.readFully(id);
            String dataKeyId = new String(id, StandardCharsets.US_ASCII);
            dataKey = keys.get(dataKeyId);
            if (dataKey == null) {
                throw new CorruptObjectException(key + " is encrypted with data key " + dataKeyId + ", which this repository does not list "
                        + "(keys: " + keys.keySet() + "): copied from another repository?");
            }
            return new Authenticated(key, dataKey.streaming().newDecryptingStream(new FromStore(ciphertext), associatedData(key, dataKeyId)));
        } catch (EOFException e) {
            ciphertext.close();
            throw new CorruptObjectException(key + " ends before its encryption header: the object is truncated", e);
        } catch (GeneralSecurityException e) {
            ciphertext.close();
            throw new IOException("cannot decrypt " + key + ": " + e.getMessage(), e);
        } catch (IOException | RuntimeException e) {
            ciphertext.close();
            throw e;
        }
    }

    static byte[] associatedData(String key, String dataKeyId) {
        return ("pgvault object " + key + " " + dataKeyId).getBytes(StandardCharsets.UTF_8);
    }

    /** Marks failures of the store itself, so they are not mistaken for a failed authentication. */
    private static final class StoreFailure extends IOException {
        StoreFailure(IOException cause) {
            super(cause.getMessage(), cause);
        }
    }

    private static final class FromStore extends FilterInputStream {
        FromStore(InputStream in) {
            super(in);
        }

        @Override
        public int read() throws IOException {
            try {
                return super.read();
            } catch (IOException e) {
                throw new StoreFailure(e);
            }
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            try {
                return super.read(b, off, len);
            } catch (IOException e) {
                throw new StoreFailure(e);
            }
        }
    }

    /** Turns Tink's failed authentication into a refusal naming the object; the store's own failures pass as they are. */
    private static final class Authenticated extends FilterInputStream {
        private final String key;

        Authenticated(String key, InputStream in) {
            super(in);
            this.key = key;
        }

        @Override
        public int read() throws IOException {
            return SingleByte.read(this);
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            try {
                return super.read(b, off, len);
            } catch (StoreFailure e) {
                throw (IOException) e.getCause();
            } catch (IOException e) {
                if (e.getCause() instanceof StoreFailure failure) {
                    throw (IOException) failure.getCause();
                }
                throw new CorruptObjectException(key + " fails authentication: it was changed, truncated, or moved here from another name ("
                        + e.getMessage() + ")", e);
            }
        }
    }

    @Override
    public Set<StorageFeature> features() {
        return stored.features();
    }

    @Override
    public String describe() {
        return stored.describe();
    }

    @Override
    public Optional<ObjectStat> stat(String key) throws IOException {
        return stored.stat(key);
    }

    @Override
    public List<ObjectStat> list(String prefix) throws IOException {
        return stored.list(prefix);
    }

    @Override
    public void delete(Collection<String> keys) throws IOException {
        stored.delete(keys);
    }

    @Override
    public void close() throws IOException {
        stored.close();
    }
}
