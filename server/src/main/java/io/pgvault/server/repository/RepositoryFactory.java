package io.pgvault.server.repository;

import io.micronaut.context.annotation.Bean;
import io.micronaut.context.annotation.Factory;
import io.pgvault.core.compress.Codec;
import io.pgvault.core.compress.Codecs;
import io.pgvault.core.storage.ObjectStore;
import io.pgvault.core.storage.ObjectStores;
import io.pgvault.core.storage.RepositoryUrl;
import io.pgvault.core.storage.s3.S3Settings;
import io.pgvault.server.config.RepositoryConfig;
import jakarta.inject.Singleton;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.file.Path;
import java.util.Optional;

/** Translates {@code pgvault.repository.*} into the core's store and codec, in one place. */
@Factory
public class RepositoryFactory {

    @Singleton
    @Bean(preDestroy = "close")
    ObjectStore objectStore(RepositoryConfig config) {
        RepositoryUrl url = RepositoryUrl.parse(config.getUrl());
        RepositoryConfig.S3 s3 = config.getS3();
        ObjectStore stored;
        try {
            stored = ObjectStores.open(url, settings -> customize(settings, s3));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot open the repository " + url + ": " + e.getMessage(), e);
        }
        String keyFile = config.getEncryption().getKeyFile();
        return new KeyedRepository(stored, Optional.ofNullable(keyFile).filter(k -> !k.isBlank()).map(Path::of));
    }

    @Singleton
    Codec codec(RepositoryConfig config) {
        return Codecs.parse(config.getCompression());
    }

    static S3Settings customize(S3Settings settings, RepositoryConfig.S3 s3) {
        S3Settings result = settings.withRegion(s3.getRegion());
        if (s3.getEndpoint() != null && !s3.getEndpoint().isBlank()) {
            result = result.withEndpoint(URI.create(s3.getEndpoint()), s3.isPathStyle());
        }
        if (s3.getAccessKey() != null && !s3.getAccessKey().isBlank()) {
            result = result.withCredentials(s3.getAccessKey(), s3.getSecretKey());
        }
        if (s3.getCaFile() != null && !s3.getCaFile().isBlank()) {
            result = result.withCaFile(Path.of(s3.getCaFile()));
        }
        return result.withConditionalWrites(s3.isConditionalWrites()).withChecksumsWhenRequired(s3.isChecksumsWhenRequired());
    }
}
