package io.pgvault.testkit;

import io.pgvault.core.storage.StorageUnavailableException;
import io.pgvault.core.storage.local.LocalDirectoryStore;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayInputStream;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class FaultInjectingStoreTest {

    @TempDir
    Path temp;

    private static final FaultInjectingStore.Failure DOWN =
            (op, key) -> new StorageUnavailableException("injected: " + op + " " + key, null);

    @Test
    void failsTheNthCallOnlyAndNothingIsStored() throws Exception {
        try (FaultInjectingStore store = new FaultInjectingStore(new LocalDirectoryStore(temp))) {
            store.failNth(FaultInjectingStore.Op.PUT, 2, DOWN);
            store.put("a", new ByteArrayInputStream(new byte[1]), 1);
            assertThatThrownBy(() -> store.put("b", new ByteArrayInputStream(new byte[1]), 1))
                    .isInstanceOf(StorageUnavailableException.class).hasMessageContaining("PUT b");
            store.put("c", new ByteArrayInputStream(new byte[1]), 1);
            assertThat(store.list("")).extracting(o -> o.key()).containsExactly("a", "c");
            assertThat(store.calls(FaultInjectingStore.Op.PUT)).isEqualTo(3);
        }
    }

    @Test
    void stickyFailuresLastUntilHealed() throws Exception {
        try (FaultInjectingStore store = new FaultInjectingStore(new LocalDirectoryStore(temp))) {
            store.failFrom(FaultInjectingStore.Op.GET, 1, DOWN);
            assertThatThrownBy(() -> store.get("x")).isInstanceOf(StorageUnavailableException.class);
            assertThatThrownBy(() -> store.get("x")).isInstanceOf(StorageUnavailableException.class);
            store.heal();
            assertThat(store.get("x")).isEmpty();
        }
    }

    @Test
    void truncatesReads() throws Exception {
        try (FaultInjectingStore store = new FaultInjectingStore(new LocalDirectoryStore(temp))) {
            store.put("x", new ByteArrayInputStream(new byte[100]), 100);
            store.truncateReadsAt(10);
            assertThat(store.get("x").orElseThrow().readAllBytes()).hasSize(10);
        }
    }
}
