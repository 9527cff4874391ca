package io.pgvault.restore.fetch;

import io.pgvault.core.archive.WalSource;
import io.pgvault.core.crypto.RepositoryEncryption;
import io.pgvault.core.storage.RepositorySource;
import io.pgvault.core.storage.server.BearerToken;
import io.pgvault.core.wal.TimelineId;

import java.io.IOException;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The arguments of {@code pgvault wal-fetch}, parsed without a command-line framework:
 * this command runs once per WAL segment and every class loaded costs PostgreSQL time.
 * Environment variables give the defaults, as for the other commands.
 */
public record WalFetchOptions(RepositorySource repository, URI server, String token, Path tokenFile, Path caCert, Path keyFile, String cluster,
                              Path spool, int prefetch, Duration retryFor, TimelineId targetTimeline, String fileName, Path target) {

    public static final String USAGE = """
            Usage: pgvault wal-fetch (--repo URL | --server URL) --cluster NAME [options] %f %p
            A restore_command: copies WAL file %f of the cluster to %p, checked against its SHA-256.
              --repo URL                 repository (file:///path or s3://bucket/prefix; env PGVAULT_REPOSITORY_URL)
              --server URL               a pgvault server instead of the repository (env PGVAULT_SERVER)
              --token-file FILE          the server's bearer token, from a file only its owner can read: the
                                         token alone or 'Authorization: Bearer TOKEN' (env PGVAULT_TOKEN_FILE;
                                         or env PGVAULT_TOKEN; never put a token in restore_command itself)
              --cacert FILE              PEM certificates of the private CA that signed the server's HTTPS
                                         certificate (env PGVAULT_CACERT)
              --cluster NAME             the cluster's name in pgvault
              --key-file FILE            an encrypted repository's key or passphrase file, mode 0600, outside the
                                         data directory (env PGVAULT_REPOSITORY_ENCRYPTION_KEY_FILE)
              --spool DIR                prefetch into DIR (relative to the data directory); calls that find
                                         their file there need no JVM
              --prefetch N               segments to keep ahead (default 8)
              --retry-for SECONDS        how long to retry an unreachable or damaged repository (default 60)
              --target-timeline N        the timeline recovery follows, for prefetching (default: latest)
              --s3-credentials-file FILE access-key=... and secret-key=... lines, mode 0600, outside the data
                                         directory (or env AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, the AWS chain)
              --s3-endpoint URL, --s3-region R, --s3-path-style,
              --s3-ca-file PEM           trust this CA's certificates for an HTTPS endpoint (a private CA)
              --s3-checksums-when-required BOOL, --s3-conditional-writes BOOL   as the server's settings
                                         (each also from env PGVAULT_REPOSITORY_S3_*)
            Exit codes: 0 restored; 1 not archived; 3 failed (or bad arguments) in standby mode (PostgreSQL
            retries); 200 failed (or bad arguments) during archive recovery, which makes PostgreSQL stop
            instead of ending recovery early on a partial history.""";

    /** @throws IllegalArgumentException naming what is wrong */
    public static WalFetchOptions parse(List<String> args, Map<String, String> env) {
        return parse(args, env, true);
    }

    /** @param withFile whether %f and %p are expected (the prefetcher has none) */
    public static WalFetchOptions parse(List<String> args, Map<String, String> env, boolean withFile) {
        RepositorySource fromEnvironment = RepositorySource.fromEnvironment(env);
        List<String[]> given = new ArrayList<>();
        String server = env.get("PGVAULT_SERVER");
        String token = env.get("PGVAULT_TOKEN");
        String tokenFile = env.get("PGVAULT_TOKEN_FILE");
        String caCert = env.get("PGVAULT_CACERT");
        String keyFile = env.get("PGVAULT_REPOSITORY_ENCRYPTION_KEY_FILE");
        String cluster = null;
        Path spool = null;
        int prefetch = 8;
        Duration retryFor = Duration.ofSeconds(60);
        TimelineId timeline = null;
        List<String> positional = new ArrayList<>();
        boolean explicitRepo = false;
        for (int i = 0; i < args.size(); i++) {
            String a = args.get(i);
            if (!a.startsWith("--")) {
                positional.add(a);
                continue;
            }
            if (RepositorySource.FLAGS.contains(a)) {
                given.add(new String[] {a, "true"});
                continue;
            }
            if (a.equals("--s3-access-key") || a.equals("--s3-secret-key")) {
                // restore_command lives in postgresql.auto.conf, SHOW-able, and in every process list.
                throw new IllegalArgumentException(a + " is not taken here: S3 keys go in a --s3-credentials-file FILE (mode 0600, outside "
                        + "the data directory) or in the environment, never in restore_command");
            }
            if (i + 1 >= args.size()) {
                throw new IllegalArgumentException(a + " needs a value");
            }
            String v = args.get(++i);
            if (RepositorySource.OPTIONS.contains(a)) {
                given.add(new String[] {a, v});
                explicitRepo |= a.equals("--repo");
                continue;
            }
            switch (a) {
                case "--server" -> server = v;
                case "--token" -> token = v;
                case "--token-file" -> tokenFile = v;
                case "--cacert" -> caCert = v;
                case "--key-file" -> keyFile = v;
                case "--cluster" -> cluster = v;
                case "--spool" -> spool = Path.of(v);
                case "--prefetch" -> prefetch = Integer.parseInt(v);
                case "--retry-for" -> retryFor = Duration.ofSeconds(Long.parseLong(v));
                case "--target-timeline" -> timeline = new TimelineId(Long.parseLong(v));
                default -> throw new IllegalArgumentException("unknown option " + a);
            }
        }
        if (cluster == null) {
            throw new IllegalArgumentException("--cluster is required");
        }
        // An explicit --repo (as recover writes it) says everything but the credentials.
        RepositorySource repository = explicitRepo ? fromEnvironment.credentialsOnly() : fromEnvironment;
        for (String[] option : given) {
            repository = repository.with(option[0], option[1]);
        }
        if (positional.size() != (withFile ? 2 : 0)) {
            throw new IllegalArgumentException("expected the WAL file name and the target path (%f %p), got " + positional);
        }
        if (explicitRepo || server == null) {
            server = null;
            if (!repository.hasUrl()) {
                throw new IllegalArgumentException("--repo URL or --server URL is required");
            }
        }
        Path tokenPath = tokenFile == null || tokenFile.isBlank() ? null : Path.of(tokenFile);
        if (server != null && tokenPath != null) {
            token = BearerToken.fromFile(tokenPath);
        }
        Path caPath = server == null || caCert == null || caCert.isBlank() ? null : Path.of(caCert);
        Path keyPath = keyFile == null || keyFile.isBlank() ? null : Path.of(keyFile);
        return new WalFetchOptions(repository, server == null ? null : URI.create(server), token, tokenPath, caPath, keyPath, cluster, spool,
                prefetch, retryFor, timeline, withFile ? positional.get(0) : null, withFile ? Path.of(positional.get(1)) : null);
    }

    /**
     * The arguments that describe the source, for handing to the prefetcher. Never the token
     * itself (a process's arguments are visible to every local user): its file, or the
     * environment the prefetcher inherits.
     */
    public List<String> sourceArguments() {
        List<String> out = new ArrayList<>();
        if (server != null) {
            out.addAll(List.of("--server", server.toString()));
            if (tokenFile != null) {
                out.addAll(List.of("--token-file", tokenFile.toString()));
            }
            if (caCert != null) {
                out.addAll(List.of("--cacert", caCert.toString()));
            }
        } else {
            // Keys from the environment stay there: the prefetcher inherits it.
            out.addAll(repository.withoutInlineKeys().arguments());
        }
        if (keyFile != null) {
            out.addAll(List.of("--key-file", keyFile.toString()));
        }
        out.addAll(List.of("--cluster", cluster, "--prefetch", Integer.toString(prefetch)));
        if (targetTimeline != null) {
            out.addAll(List.of("--target-timeline", Long.toString(targetTimeline.value())));
        }
        return out;
    }

    /** @param streamedTail see {@link WalSource}: true for wal-fetch, false for the prefetcher */
    public WalSource openSource(boolean streamedTail) throws IOException {
        return new WalSource(openStore(), cluster, streamedTail);
    }

    /**
     * The repository, or a read-only view of it through the pgvault server; decrypted with
     * --key-file when encrypted. Without a key nothing is read up front: this runs once per
     * WAL segment, and an encrypted object met without a key is refused by
     * {@code ObjectEnvelope.open} with the same advice.
     */
    public io.pgvault.core.storage.ObjectStore openStore() throws IOException {
        io.pgvault.core.storage.ObjectStore stored = server != null
                ? new io.pgvault.core.storage.server.ServerObjectStore(server, token, caCert)
                : repository.open();
        if (keyFile == null) {
            return stored;
        }
        try {
            return RepositoryEncryption.open(stored, java.util.Optional.ofNullable(keyFile));
        } catch (IOException | RuntimeException e) {
            stored.close();
            throw e;
        }
    }
}
