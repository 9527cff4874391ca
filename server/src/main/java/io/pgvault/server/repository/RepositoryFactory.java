package io.pgvault.server.repository;

import io.micronaut.context.annotation.Bean;
import io.micronaut.context.annotation.Factory;
import io.pgvault.core.compress.Codec;
import io.pgvault.core.compress.Codecs;
import io.pgvault.core.crypto.CipherJit;
import io.pgvault.core.storage.ObjectStore;
import io.pgvault.core.storage.RepositorySource;
import io.pgvault.server.config.RepositoryConfig;
import jakarta.inject.Singleton;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Path;
import java.util.Optional;

/** Translates {@code pgvault.repository.*} into the core's store and codec, in one place. */
@Factory
public class RepositoryFactory {

    private static final Logger LOG = LoggerFactory.getLogger(RepositoryFactory.class);

    @Singleton
    @Bean(preDestroy = "close")
    ObjectStore objectStore(RepositoryConfig config) {
        RepositorySource source = source(config);
        ObjectStore stored;
        try {
            stored = source.open();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot open the repository " + source.url() + ": " + e.getMessage(), e);
        }
        Optional<Path> keyFile = Optional.ofNullable(config.getEncryption().getKeyFile()).filter(k -> !k.isBlank()).map(Path::of);
        if (keyFile.isPresent() && !CipherJit.appliedTo(ManagementFactory.getRuntimeMXBean().getInputArguments())) {
            LOG.warn("The repository is encrypted, and this JVM was started without {}: until the JIT compiles AES-GCM (a few hundred MB"
                    + " of WAL and backups) each 16 MiB segment costs some 30 ms more CPU. bin/pgvault-server passes them; with java -jar,"
                    + " add them before -jar", String.join(" ", CipherJit.JVM_OPTIONS));
        }
        return new KeyedRepository(stored, keyFile);
    }

    @Singleton
    Codec codec(RepositoryConfig config) {
        return Codecs.parse(config.getCompression());
    }

    /** {@code pgvault.repository.*} as the value the CLI and wal-fetch describe with their options. */
    static RepositorySource source(RepositoryConfig config) {
        RepositoryConfig.S3 s3 = config.getS3();
        return new RepositorySource(config.getUrl(), s3.getEndpoint(), s3.getRegion(), s3.isPathStyle(), s3.getAccessKey(), s3.getSecretKey(),
                path(s3.getCredentialsFile()), path(s3.getCaFile()), s3.isChecksumsWhenRequired(), s3.isConditionalWrites());
    }

    private static Path path(String file) {
        return file == null || file.isBlank() ? null : Path.of(file).toAbsolutePath();
    }
}
