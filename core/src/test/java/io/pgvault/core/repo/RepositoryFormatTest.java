package io.pgvault.core.repo;

import io.pgvault.core.storage.ObjectStore;
import io.pgvault.core.storage.local.LocalDirectoryStore;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class RepositoryFormatTest {

    @TempDir
    Path temp;

    private void write(ObjectStore store, String json) throws Exception {
        byte[] bytes = json.getBytes(StandardCharsets.UTF_8);
        store.put(RepositoryFormat.KEY, new ByteArrayInputStream(bytes), bytes.length);
    }

    @Test
    void initializeCreatesOnceAndKeepsTheFirst() throws Exception {
        try (ObjectStore store = new LocalDirectoryStore(temp)) {
            assertThat(RepositoryFormat.check(store)).isEmpty();
            RepositoryFormat.Descriptor first = RepositoryFormat.initialize(store, "pgvault test A");
            RepositoryFormat.Descriptor second = RepositoryFormat.initialize(store, "pgvault test B");
            assertThat(first.formatVersion()).isEqualTo(RepositoryFormat.CLEAR);
            assertThat(second.createdBy()).isEqualTo("pgvault test A");
            assertThat(RepositoryFormat.require(store)).isEqualTo(first);
        }
    }

    @Test
    void aNewerFormatIsRefusedWithTheVersion() throws Exception {
        try (ObjectStore store = new LocalDirectoryStore(temp)) {
            write(store, "{\"formatVersion\": 7, \"createdBy\": \"pgvault 9.0\", \"futureField\": true}");
            assertThatThrownBy(() -> RepositoryFormat.check(store))
                    .isInstanceOf(UnsupportedFormatException.class)
                    .hasMessageContaining("format version 7").hasMessageContaining("pgvault 9.0").hasMessageContaining("upgrade pgvault");
            assertThatThrownBy(() -> RepositoryFormat.initialize(store, "x")).isInstanceOf(UnsupportedFormatException.class);
        }
    }

    @Test
    void aDamagedOrMissingFormatObjectIsExplained() throws Exception {
        try (ObjectStore store = new LocalDirectoryStore(temp)) {
            assertThatThrownBy(() -> RepositoryFormat.require(store)).hasMessageContaining("no pgvault repository");
            write(store, "{not json");
            assertThatThrownBy(() -> RepositoryFormat.check(store)).isInstanceOf(CorruptObjectException.class)
                    .hasMessageContaining(RepositoryFormat.KEY);
            write(store, "{\"formatVersion\": 0}");
            assertThatThrownBy(() -> RepositoryFormat.check(store)).isInstanceOf(CorruptObjectException.class);
        }
    }
}
