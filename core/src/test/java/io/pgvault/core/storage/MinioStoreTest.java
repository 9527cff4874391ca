package io.pgvault.core.storage;

import io.pgvault.core.storage.s3.S3Store;
import io.pgvault.testkit.MinioFixture;
import io.pgvault.testkit.ObjectStoreContract;
import org.junit.jupiter.api.AfterAll;

import java.util.UUID;

/** The storage contract against MinIO, where a Docker engine runs; skipped (and says why) elsewhere. */
class MinioStoreTest extends ObjectStoreContract {

    private static MinioFixture minio;

    @Override
    protected ObjectStore openStore() {
        if (minio == null) {
            minio = MinioFixture.startOrSkip();
        }
        return new S3Store(minio.settings("contract-" + UUID.randomUUID().toString().substring(0, 8), "run")
                .withMultipart(8L << 20, 5L << 20));
    }

    @AfterAll
    static void stopMinio() {
        if (minio != null) {
            minio.close();
        }
    }
}
