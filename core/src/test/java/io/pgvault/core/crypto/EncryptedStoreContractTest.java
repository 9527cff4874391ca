package io.pgvault.core.crypto;

import io.pgvault.core.repo.RepositoryFormat;
import io.pgvault.core.storage.ObjectStore;
import io.pgvault.core.storage.local.LocalDirectoryStore;
import io.pgvault.testkit.ObjectStoreContract;

import java.nio.file.Path;
import java.util.List;

/**
 * An encrypted repository keeps every promise of the store under it; the sizes it
 * reports are the ciphertext's (a 8-byte prefix with the data key's id, Tink's header and
 * a tag per 64 KiB segment).
 */
class EncryptedStoreContractTest extends ObjectStoreContract {

    private static final int PREFIX = EncryptingStore.MAGIC.length + 2 + 16;

    @Override
    protected ObjectStore openStore() throws Exception {
        Path key = temp.resolve("repo.key");
        KeyEncryptionKey.generate(key);
        return RepositoryEncryption.initialize(new LocalDirectoryStore(temp.resolve("repo")), key, "test");
    }

    @Override
    protected long storedSize(long contentLength) {
        return PREFIX + ((EncryptingStore) store).activeCiphertextSize(contentLength);
    }

    @Override
    protected List<String> preexisting() {
        return List.of(RepositoryFormat.KEY);
    }
}
