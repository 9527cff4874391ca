package io.pgvault.core.storage.s3;

import io.pgvault.core.storage.ObjectKeys;
import io.pgvault.core.storage.ObjectStat;
import io.pgvault.core.storage.ObjectStore;
import io.pgvault.core.storage.StorageException;
import io.pgvault.core.storage.StorageFeature;
import io.pgvault.core.storage.StorageFullException;
import io.pgvault.core.storage.StorageUnavailableException;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.DefaultCredentialsProvider;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.awscore.retry.AwsRetryStrategy;
import software.amazon.awssdk.core.ResponseInputStream;
import software.amazon.awssdk.core.async.AsyncResponseTransformer;
import software.amazon.awssdk.core.checksums.RequestChecksumCalculation;
import software.amazon.awssdk.core.checksums.ResponseChecksumValidation;
import software.amazon.awssdk.core.exception.SdkClientException;
import software.amazon.awssdk.http.async.SdkAsyncHttpClient;
import software.amazon.awssdk.http.nio.netty.NettyNioAsyncHttpClient;
import software.amazon.awssdk.http.nio.netty.SdkEventLoopGroup;
import io.netty.channel.nio.NioEventLoopGroup;
import io.netty.channel.socket.nio.NioSocketChannel;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3AsyncClient;
import software.amazon.awssdk.services.s3.S3AsyncClientBuilder;
import software.amazon.awssdk.services.s3.model.Delete;
import software.amazon.awssdk.services.s3.model.DeleteObjectsResponse;
import software.amazon.awssdk.services.s3.model.GetObjectResponse;
import software.amazon.awssdk.services.s3.model.HeadObjectResponse;
import software.amazon.awssdk.services.s3.model.ListObjectsV2Request;
import software.amazon.awssdk.services.s3.model.NoSuchKeyException;
import software.amazon.awssdk.services.s3.model.ObjectIdentifier;
import software.amazon.awssdk.services.s3.model.PutObjectRequest;
import software.amazon.awssdk.services.s3.model.S3Exception;
import software.amazon.awssdk.services.s3.multipart.MultipartConfiguration;
import software.amazon.awssdk.transfer.s3.S3TransferManager;
import software.amazon.awssdk.transfer.s3.model.UploadFileRequest;

import javax.net.ssl.SSLHandshakeException;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.EnumSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

/**
 * An {@link ObjectStore} in an S3 bucket (AWS or any S3-compatible store), through the
 * AWS SDK v2. Small objects go up in one PUT (S3 makes a PUT atomic: the object appears
 * whole or not at all); large ones through the transfer manager's multipart upload,
 * which S3 also only makes visible on completion. {@code putIfAbsent} is a single PUT
 * with {@code If-None-Match: *}.
 */
public final class S3Store implements ObjectStore {

    private static final int DELETE_BATCH = 1000;
    private static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(10);
    /** Waiting for one of the 64 pooled connections: the server bounds its own concurrency, so this is a backstop. */
    private static final Duration ACQUIRE_TIMEOUT = Duration.ofSeconds(60);
    /** One try of one request, a 64 MiB piece included on a slow link; silence is caught sooner by the read timeout. */
    private static final Duration ATTEMPT_TIMEOUT = Duration.ofMinutes(10);
    /** Every try of one request and the waits between them. */
    private static final Duration CALL_TIMEOUT = Duration.ofMinutes(30);
    /** pgBackRest retries a request four times, too; a SlowDown storm usually passes within these. */
    static final int MAX_ATTEMPTS = 5;

    private final S3Settings settings;
    private final NioEventLoopGroup eventLoop;
    private final SdkAsyncHttpClient http;
    private final S3AsyncClient client;
    private final S3AsyncClient multipartClient;
    private final S3TransferManager transfers;
    private final ExecutorService streamReaders;

    public S3Store(S3Settings settings) {
        this.settings = settings;
        // Our own event loop, so close() can skip Netty's default 2 s quiet period.
        this.eventLoop = new NioEventLoopGroup(2, runnable -> {
            Thread thread = new Thread(runnable, "pgvault-s3-io");
            thread.setDaemon(true);
            return thread;
        });
        NettyNioAsyncHttpClient.Builder httpBuilder = NettyNioAsyncHttpClient.builder()
                .eventLoopGroup(SdkEventLoopGroup.create(eventLoop, NioSocketChannel::new))
                .maxConcurrency(64)
                .connectionTimeout(CONNECT_TIMEOUT)
                // A connection that goes silent (a stalled store, a dropped route) fails the attempt, which is retried.
                .readTimeout(settings.readTimeout())
                .writeTimeout(settings.readTimeout())
                .connectionAcquisitionTimeout(ACQUIRE_TIMEOUT);
        try {
            settings.caFile().map(PemTrust::load).ifPresent(httpBuilder::tlsTrustManagersProvider);
        } catch (RuntimeException e) {
            eventLoop.shutdownGracefully(0, 0, TimeUnit.SECONDS);
            throw e;
        }
        this.http = httpBuilder.build();
        this.client = builder(settings).build();
        this.multipartClient = builder(settings)
                .multipartEnabled(true)
                .multipartConfiguration(MultipartConfiguration.builder()
                        .thresholdInBytes(settings.multipartThresholdBytes())
                        .minimumPartSizeInBytes(settings.partSizeBytes())
                        .build())
                .build();
        this.transfers = S3TransferManager.builder().s3Client(multipartClient).build();
        this.streamReaders = Executors.newCachedThreadPool(runnable -> {
            Thread thread = new Thread(runnable, "pgvault-s3-upload");
            thread.setDaemon(true);
            return thread;
        });
    }

    private S3AsyncClientBuilder builder(S3Settings s) {
        S3AsyncClientBuilder b = S3AsyncClient.builder()
                .httpClient(http)
                .region(Region.of(s.region()))
                .forcePathStyle(s.pathStyle())
                .credentialsProvider(s.accessKeyId().isPresent()
                        ? StaticCredentialsProvider.create(AwsBasicCredentials.create(s.accessKeyId().get(), s.secretAccessKey().orElseThrow()))
                        : DefaultCredentialsProvider.builder().build());
        s.endpoint().ifPresent(b::endpointOverride);
        b.overrideConfiguration(c -> c
                .apiCallAttemptTimeout(ATTEMPT_TIMEOUT)
                .apiCallTimeout(CALL_TIMEOUT)
                // The SDK's standard strategy: exponential backoff with jitter, longer for throttling (503 SlowDown, 429).
                .retryStrategy(AwsRetryStrategy.standardRetryStrategy().toBuilder().maxAttempts(MAX_ATTEMPTS).build()));
        if (s.checksumsWhenRequired()) {
            b.requestChecksumCalculation(RequestChecksumCalculation.WHEN_REQUIRED)
                    .responseChecksumValidation(ResponseChecksumValidation.WHEN_REQUIRED);
        }
        return b;
    }

    public S3Settings settings() {
        return settings;
    }

    @Override
    public Set<StorageFeature> features() {
        EnumSet<StorageFeature> features = EnumSet.of(StorageFeature.READ_AFTER_WRITE);
        if (settings.conditionalWrites()) {
            features.add(StorageFeature.CONDITIONAL_CREATE);
        }
        return features;
    }

    @Override
    public String describe() {
        return settings.toString();
    }

    @Override
    public void put(String key, InputStream data, long length) throws IOException {
        String fullKey = fullKey(key);
        if (length < 0) {
            // The SDK needs a length for a one-shot PUT; spool unknown-length data first.
            Path spool = Files.createTempFile("pgvault-s3-", ".spool");
            try {
                Files.copy(data, spool, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
                putFile(key, spool);
            } finally {
                Files.deleteIfExists(spool);
            }
            return;
        }
        put(key, ReopeningRequestBody.once(key, data), length);
    }

    @Override
    public void put(String key, Body body, long length) throws IOException {
        if (length < 0) {
            try (InputStream data = body.open()) {
                put(key, data, length);
            }
            return;
        }
        S3AsyncClient target = length >= settings.multipartThresholdBytes() ? multipartClient : client;
        try (ReopeningRequestBody request = new ReopeningRequestBody(key, body, length, streamReaders)) {
            await("store " + key, target.putObject(put(fullKey(key)).contentLength(length).build(), request));
        }
    }

    @Override
    public void putFile(String key, Path file) throws IOException {
        String fullKey = fullKey(key);
        await("store " + key, transfers.uploadFile(UploadFileRequest.builder()
                .putObjectRequest(put(fullKey).build())
                .source(file)
                .build()).completionFuture());
    }

    @Override
    public boolean putIfAbsent(String key, InputStream data, long length) throws IOException {
        if (length < 0) {
            byte[] bytes = data.readAllBytes();
            return putIfAbsent(key, () -> new java.io.ByteArrayInputStream(bytes), bytes.length);
        }
        return putIfAbsent(key, ReopeningRequestBody.once(key, data), length);
    }

    @Override
    public boolean putIfAbsent(String key, Body body, long length) throws IOException {
        if (length < 0) {
            try (InputStream data = body.open()) {
                return putIfAbsent(key, data, length);
            }
        }
        if (!settings.conditionalWrites()) {
            if (stat(key).isPresent()) {
                return false;
            }
            put(key, body, length);
            return true;
        }
        // A retried attempt whose first try was stored after all meets 412: reported as "existed",
        // which callers settle by comparing contents (an identical WAL file is a duplicate, not a conflict).
        try (ReopeningRequestBody request = new ReopeningRequestBody(key, body, length, streamReaders)) {
            await("store " + key, client.putObject(put(fullKey(key)).contentLength(length).ifNoneMatch("*").build(), request));
            return true;
        } catch (StorageException e) {
            if (e.getCause() instanceof S3Exception s3) {
                if (s3.statusCode() == 412) {
                    return false;
                }
                // 409: a concurrent conditional write to the same key is in flight.
                if (s3.statusCode() == 409 && stat(key).isPresent()) {
                    return false;
                }
            }
            // A store that refuses If-None-Match before reading the body closes the connection on a
            // sender still writing it (S3Proxy; MinIO with a large unread body): the 412 never
            // arrives. The object being there now means the same thing; callers compare contents.
            if (e instanceof StorageUnavailableException && existsDespite(e, key)) {
                return false;
            }
            throw e;
        }
    }

    /** Whether {@code key} exists, asked after {@code failure}; a store that cannot say leaves the failure as it was. */
    private boolean existsDespite(StorageException failure, String key) {
        try {
            return stat(key).isPresent();
        } catch (IOException | RuntimeException e) {
            failure.addSuppressed(e);
            return false;
        }
    }

    @Override
    public Optional<InputStream> get(String key) throws IOException {
        String fullKey = fullKey(key);
        try {
            ResponseInputStream<GetObjectResponse> stream = await("read " + key,
                    client.getObject(b -> b.bucket(settings.bucket()).key(fullKey), AsyncResponseTransformer.toBlockingInputStream()));
            return Optional.of(stream);
        } catch (StorageException e) {
            if (isNotFound(e.getCause())) {
                return Optional.empty();
            }
            throw e;
        }
    }

    @Override
    public Optional<ObjectStat> stat(String key) throws IOException {
        String fullKey = fullKey(key);
        try {
            HeadObjectResponse head = await("stat " + key, client.headObject(b -> b.bucket(settings.bucket()).key(fullKey)));
            return Optional.of(new ObjectStat(key, head.contentLength(), head.lastModified()));
        } catch (StorageException e) {
            if (isNotFound(e.getCause())) {
                return Optional.empty();
            }
            throw e;
        }
    }

    @Override
    public List<ObjectStat> list(String prefix) throws IOException {
        ObjectKeys.checkPrefix(prefix);
        String fullPrefix = settings.prefix().isEmpty() ? prefix : settings.prefix() + "/" + prefix;
        int strip = settings.prefix().isEmpty() ? 0 : settings.prefix().length() + 1;
        List<ObjectStat> result = new ArrayList<>();
        ListObjectsV2Request request = ListObjectsV2Request.builder().bucket(settings.bucket()).prefix(fullPrefix).build();
        await("list " + prefix, client.listObjectsV2Paginator(request).contents().subscribe(o ->
                result.add(new ObjectStat(o.key().substring(strip), o.size(), o.lastModified()))));
        result.sort(Comparator.comparing(ObjectStat::key));
        return result;
    }

    @Override
    public void delete(Collection<String> keys) throws IOException {
        List<ObjectIdentifier> ids = new ArrayList<>();
        for (String key : keys) {
            ids.add(ObjectIdentifier.builder().key(fullKey(key)).build());
        }
        for (int from = 0; from < ids.size(); from += DELETE_BATCH) {
            List<ObjectIdentifier> batch = ids.subList(from, Math.min(ids.size(), from + DELETE_BATCH));
            DeleteObjectsResponse response = await("delete " + batch.size() + " objects", client.deleteObjects(b -> b
                    .bucket(settings.bucket())
                    .delete(Delete.builder().objects(batch).quiet(true).build())));
            if (response.hasErrors() && !response.errors().isEmpty()) {
                var first = response.errors().get(0);
                throw new StorageException("cannot delete " + first.key() + " in " + describe() + ": " + first.code() + " " + first.message()
                        + (response.errors().size() > 1 ? " (and " + (response.errors().size() - 1) + " more)" : ""));
            }
        }
    }

    @Override
    public void close() {
        transfers.close();
        multipartClient.close();
        client.close();
        http.close();
        eventLoop.shutdownGracefully(0, 5, TimeUnit.SECONDS);
        streamReaders.shutdownNow();
    }

    private PutObjectRequest.Builder put(String fullKey) {
        return PutObjectRequest.builder().bucket(settings.bucket()).key(fullKey);
    }

    private String fullKey(String key) {
        ObjectKeys.check(key);
        return settings.prefix().isEmpty() ? key : settings.prefix() + "/" + key;
    }

    private static boolean isNotFound(Throwable t) {
        return t instanceof NoSuchKeyException || (t instanceof S3Exception s3 && s3.statusCode() == 404
                && !"NoSuchBucket".equals(s3.awsErrorDetails() == null ? null : s3.awsErrorDetails().errorCode()));
    }

    private <T> T await(String action, CompletableFuture<T> future) throws StorageException {
        try {
            return future.get();
        } catch (InterruptedException e) {
            future.cancel(true);
            Thread.currentThread().interrupt();
            throw new StorageUnavailableException("interrupted while trying to " + action + " in " + describe(), e);
        } catch (ExecutionException | CompletionException e) {
            throw translate(action, unwrap(e));
        }
    }

    private static Throwable unwrap(Throwable t) {
        while ((t instanceof ExecutionException || t instanceof CompletionException) && t.getCause() != null) {
            t = t.getCause();
        }
        return t;
    }

    private static Throwable find(Throwable t, Class<? extends Throwable> type) {
        for (Throwable c = t; c != null; c = c.getCause() == c ? null : c.getCause()) {
            if (type.isInstance(c)) {
                return c;
            }
        }
        return null;
    }

    private StorageException translate(String action, Throwable t) {
        String where = "cannot " + action + " in " + describe();
        if (t instanceof StorageException storage) {
            return storage;
        }
        if (t instanceof S3Exception s3) {
            int status = s3.statusCode();
            String code = s3.awsErrorDetails() == null || s3.awsErrorDetails().errorCode() == null ? "" : s3.awsErrorDetails().errorCode();
            if (status == 507 || code.contains("StorageFull") || code.contains("QuotaExceeded")) {
                return new StorageFullException(where + ": the store is full (" + code + "); free space or raise the quota, nothing was stored", s3);
            }
            if (status >= 500 || status == 429) {
                return new StorageUnavailableException(where + ": the store answered " + status + " " + code + "; retry later", s3);
            }
            if ("NoSuchBucket".equals(code)) {
                return new StorageException(where + ": bucket " + settings.bucket() + " does not exist; create it or fix the repository URL", s3);
            }
            if (status == 403) {
                return new StorageException(where + ": access denied (" + code + "); check the credentials and the bucket policy", s3);
            }
            return new StorageException(where + ": " + status + " " + code + " " + s3.getMessage(), s3);
        }
        if (t instanceof SdkClientException || t instanceof IOException) {
            Throwable untrusted = find(t, SSLHandshakeException.class);
            if (untrusted != null) {
                // Retrying cannot help: the endpoint's certificate is not trusted (or the endpoint does not speak TLS).
                return new StorageException(where + ": TLS handshake with " + settings.endpoint().map(URI::toString).orElse("the endpoint")
                        + " failed (" + untrusted.getMessage() + "); if a private CA signed its certificate, give that CA's PEM file"
                        + " (--s3-ca-file, pgvault.repository.s3.ca-file)", t);
            }
            Throwable cause = t;
            while (cause.getCause() != null && cause.getCause() != cause) {
                if (cause instanceof StorageException storage) {
                    return storage;
                }
                cause = cause.getCause();
            }
            if (cause instanceof StorageException storage) {
                return storage;
            }
            return new StorageUnavailableException(where + ": the store cannot be reached (" + t.getMessage()
                    + "); check the endpoint and network, then retry", t);
        }
        return new StorageException(where + ": " + t, t);
    }
}
