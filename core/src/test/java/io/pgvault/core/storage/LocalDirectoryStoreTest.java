package io.pgvault.core.storage;

import io.pgvault.core.storage.local.LocalDirectoryStore;
import io.pgvault.testkit.ObjectStoreContract;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayInputStream;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
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

    @Test
    void listingSkipsDirectoriesThatAreDeletedWhileItWalks() throws Exception {
        // Retention deletes old WAL (and the emptied directories) while a status request lists the WAL.
        store.put("wal/keep/a", new ByteArrayInputStream(new byte[1]), 1);
        AtomicBoolean churning = new AtomicBoolean(true);
        AtomicReference<Exception> churnFailure = new AtomicReference<>();
        Thread churn = new Thread(() -> {
            try {
                for (int round = 0; churning.get(); round++) {
                    List<String> keys = new ArrayList<>();
                    for (int d = 0; d < 20; d++) {
                        String key = "wal/dir" + (round % 4) + "-" + d + "/f";
                        store.put(key, new ByteArrayInputStream(new byte[1]), 1);
                        keys.add(key);
                    }
                    store.delete(keys);
                }
            } catch (Exception e) {
                churnFailure.set(e);
            }
        });
        churn.start();
        try {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(3);
            while (System.nanoTime() < deadline) {
                assertThat(store.list("wal/")).extracting(ObjectStat::key).contains("wal/keep/a");
            }
        } finally {
            churning.set(false);
            churn.join();
        }
        assertThat(churnFailure.get()).isNull();
    }
}
