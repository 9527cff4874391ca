package io.pgvault.core.storage;

import io.pgvault.core.storage.local.LocalDirectoryStore;
import io.pgvault.testkit.ObjectStoreContract;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayInputStream;
import java.nio.file.Files;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

class LocalDirectoryStoreTest extends ObjectStoreContract {

    @Override
    protected ObjectStore openStore() throws Exception {
        return new LocalDirectoryStore(temp.resolve("repo"));
    }

    @Test
    void aFailedPutLeavesNoTemporaryFileBehind() throws Exception {
        try {
            store.put("x/y", new ByteArrayInputStream(new byte[3]), 10);
        } catch (StorageException expected) {
            // the point of the test is what is left on disk
        }
        try (Stream<java.nio.file.Path> files = Files.walk(temp.resolve("repo"))) {
            assertThat(files.filter(Files::isRegularFile)).isEmpty();
        }
    }
}
