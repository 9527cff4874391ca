package io.pgvault.core.storage;

import io.pgvault.core.storage.local.LocalDirectoryStore;
import io.pgvault.core.storage.s3.S3Settings;
import io.pgvault.core.storage.s3.S3Store;

import java.io.IOException;
import java.util.function.UnaryOperator;

/** Opens the store a {@link RepositoryUrl} names. */
public final class ObjectStores {

    private ObjectStores() {
    }

    /**
     * @param s3Options adds endpoint, credentials and client settings to the bucket and
     *     prefix the URL gives; ignored for local directories
     */
    public static ObjectStore open(RepositoryUrl url, UnaryOperator<S3Settings> s3Options) throws IOException {
        if (url instanceof RepositoryUrl.Local local) {
            return new LocalDirectoryStore(local.directory());
        }
        RepositoryUrl.S3 s3 = (RepositoryUrl.S3) url;
        return new S3Store(s3Options.apply(S3Settings.of(s3.bucket(), s3.prefix())));
    }
}
