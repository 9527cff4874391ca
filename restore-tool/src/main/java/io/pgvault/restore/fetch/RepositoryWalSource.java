package io.pgvault.restore.fetch;

import io.pgvault.core.repo.ObjectEnvelope;
import io.pgvault.core.repo.RepositoryLayout;
import io.pgvault.core.storage.ObjectStore;
import io.pgvault.core.wal.WalFileName;

import java.io.IOException;
import java.io.InputStream;
import java.util.Optional;

/** Reads WAL straight from the repository: no server needed. */
public final class RepositoryWalSource implements WalSource {

    private final ObjectStore store;
    private final String cluster;

    public RepositoryWalSource(ObjectStore store, String cluster) {
        this.store = store;
        this.cluster = RepositoryLayout.checkCluster(cluster);
    }

    @Override
    public Optional<InputStream> open(WalFileName name) throws IOException {
        String key = RepositoryLayout.walKey(cluster, name);
        Optional<InputStream> stored = store.get(key);
        if (stored.isEmpty()) {
            return Optional.empty();
        }
        ObjectEnvelope.Opened opened = ObjectEnvelope.open(key, stored.get());
        InputStream content = opened.content();
        return Optional.of(new java.io.FilterInputStream(content) {
            @Override
            public void close() throws IOException {
                try {
                    super.close();
                } finally {
                    opened.close();
                }
            }
        });
    }

    @Override
    public String describe() {
        return store.describe() + " (cluster " + cluster + ")";
    }

    @Override
    public void close() throws IOException {
        store.close();
    }
}
