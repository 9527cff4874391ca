package io.pgvault.server.repository;

import io.pgvault.core.crypto.RepositoryEncryption;
import io.pgvault.core.storage.ObjectStat;
import io.pgvault.core.storage.ObjectStore;
import io.pgvault.core.storage.StorageFeature;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Path;
import java.util.Collection;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * The server's repository, opened with its configured key on first use rather than at
 * start: a bucket that is unreachable when the server starts must not stop it (requests
 * get 503 until it is back), and whether the repository is encrypted is only known once
 * its format object can be read. With a key, an empty repository is created encrypted.
 */
final class KeyedRepository implements ObjectStore {

    private final ObjectStore stored;
    private final Optional<Path> keyFile;
    private volatile ObjectStore opened;

    KeyedRepository(ObjectStore stored, Optional<Path> keyFile) {
        this.stored = stored;
        this.keyFile = keyFile;
    }

    /** The objects as stored (ciphertext in an encrypted repository): what the server hands to clients, which hold the key themselves. */
    ObjectStore stored() {
        return stored;
    }

    private ObjectStore opened() throws IOException {
        ObjectStore store = opened;
        if (store == null) {
            synchronized (this) {
                if (opened == null) {
                    opened = keyFile.isPresent()
                            ? RepositoryEncryption.initialize(stored, keyFile.get(), "pgvault server")
                            : RepositoryEncryption.open(stored, Optional.empty());
                }
                store = opened;
            }
        }
        return store;
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
    public void put(String key, InputStream data, long length) throws IOException {
        opened().put(key, data, length);
    }

    @Override
    public void put(String key, Body body, long length) throws IOException {
        opened().put(key, body, length);
    }

    @Override
    public boolean putIfAbsent(String key, Body body, long length) throws IOException {
        return opened().putIfAbsent(key, body, length);
    }

    @Override
    public void putFile(String key, Path file) throws IOException {
        opened().putFile(key, file);
    }

    @Override
    public boolean putIfAbsent(String key, InputStream data, long length) throws IOException {
        return opened().putIfAbsent(key, data, length);
    }

    @Override
    public Optional<InputStream> get(String key) throws IOException {
        return opened().get(key);
    }

    @Override
    public Optional<ObjectStat> stat(String key) throws IOException {
        return opened().stat(key);
    }

    @Override
    public List<ObjectStat> list(String prefix) throws IOException {
        return opened().list(prefix);
    }

    @Override
    public void delete(Collection<String> keys) throws IOException {
        opened().delete(keys);
    }

    @Override
    public void close() throws IOException {
        stored.close();
    }
}
