package io.pgvault.server.repository;

import io.micronaut.context.event.StartupEvent;
import io.micronaut.runtime.event.annotation.EventListener;
import io.pgvault.core.repo.RepositoryFormat;
import io.pgvault.core.storage.ObjectStore;
import jakarta.inject.Singleton;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;

/**
 * Creates or checks the repository's format object at start-up. A repository that is
 * unreachable at that moment does not stop the server (it answers 503 and /health says
 * DOWN until the store is back); one in a newer format does.
 */
@Singleton
public class RepositoryInitializer {

    private static final Logger LOG = LoggerFactory.getLogger(RepositoryInitializer.class);

    private final ObjectStore store;
    private volatile boolean ready;

    public RepositoryInitializer(ObjectStore store) {
        this.store = store;
    }

    @EventListener
    void onStartup(StartupEvent event) {
        try {
            ensureReady();
        } catch (io.pgvault.core.repo.UnsupportedFormatException e) {
            // A newer format, or a key that is missing, wrong or not needed (RepositoryKeyException): no retry will change that.
            throw new IllegalStateException(e.getMessage(), e);
        } catch (IOException e) {
            LOG.error("Repository {} is not usable yet: {}. Retrying on each request.", store.describe(), e.getMessage());
        }
    }

    /** Initializes the repository once; cheap after the first success. */
    public void ensureReady() throws IOException {
        if (!ready) {
            RepositoryFormat.Descriptor format = RepositoryFormat.initialize(store, "pgvault server");
            LOG.info("Repository {} ready (format version {}{})", store.describe(), format.formatVersion(),
                    format.encrypted() ? ", encrypted with key id " + format.encryption().keyId() : "");
            ready = true;
        }
    }
}
