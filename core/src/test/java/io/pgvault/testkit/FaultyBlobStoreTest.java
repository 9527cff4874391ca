package io.pgvault.testkit;

import io.pgvault.core.storage.StorageException;
import io.pgvault.core.storage.StorageUnavailableException;
import io.pgvault.core.storage.s3.S3Store;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayInputStream;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** What the real AWS SDK client sees of the faults: S3Proxy passes the injected status through, and a late write still lands. */
class FaultyBlobStoreTest {

    @TempDir
    Path temp;

    @Test
    void theClientSeesTheInjectedStatusAndNothingElseChanges() throws Exception {
        AtomicReference<FaultyBlobStore> faults = new AtomicReference<>();
        try (S3ProxyFixture s3 = S3ProxyFixture.builder().onDisk(temp).servedThrough(store -> {
                    faults.set(new FaultyBlobStore(store));
                    return faults.get();
                }).start();
             S3Store store = new S3Store(s3.settings("faults", "p"))) {
            store.put("a", new ByteArrayInputStream(new byte[] {1, 2, 3}), 3);

            faults.get().mode(FaultyBlobStore.Mode.UNAVAILABLE);
            assertThatThrownBy(() -> store.get("a")).isInstanceOf(StorageUnavailableException.class).hasMessageContaining("503");
            faults.get().mode(FaultyBlobStore.Mode.INTERNAL_ERROR);
            assertThatThrownBy(() -> store.stat("a")).isInstanceOf(StorageUnavailableException.class).hasMessageContaining("500");
            assertThatThrownBy(() -> store.put("b", new ByteArrayInputStream(new byte[1]), 1)).isInstanceOf(StorageException.class);
            assertThat(faults.get().faulted(FaultyBlobStore.Mode.UNAVAILABLE)).isPositive();
            assertThat(faults.get().faulted(FaultyBlobStore.Mode.INTERNAL_ERROR)).isPositive();

            faults.get().lateBy(Duration.ofMillis(600));
            faults.get().mode(FaultyBlobStore.Mode.LATE);
            long start = System.nanoTime();
            assertThat(store.putIfAbsent("c", new ByteArrayInputStream(new byte[] {7}), 1)).isTrue();
            assertThat(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start)).isGreaterThanOrEqualTo(600);

            faults.get().mode(FaultyBlobStore.Mode.HEALTHY);
            assertThat(store.get("a").orElseThrow().readAllBytes()).containsExactly(1, 2, 3);
            assertThat(store.get("b")).isEmpty();
            assertThat(store.get("c").orElseThrow().readAllBytes()).containsExactly(7);
            assertThat(temp.resolve("faults")).isDirectory();
        }
    }
}
