package io.pgvault.cli.push;

import io.pgvault.core.storage.server.BearerToken;
import io.pgvault.core.wal.WalFileName;

import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The options of {@code pgvault wal-push}, parsed by hand (it runs as archive_command: no
 * command-line framework to load). {@link PushAheadDaemon} takes the same ones.
 *
 * @param spool     the push-ahead spool, relative to the data directory, inside the WAL directory; null without one
 */
public record WalPushOptions(URI server, String cluster, String token, Path tokenFile, Path caCert, Path spool, int parallel,
                             Duration retryFor, Path file) {

    public static final String USAGE = """
            Usage: pgvault wal-push --server URL --cluster NAME [options] %p
            archive_command: sends WAL file %p, zstd-compressed, to the pgvault server, which validates and
            stores it; exits 0 only once it is durable in the repository.
              --server URL               the pgvault server (env PGVAULT_SERVER; default http://127.0.0.1:8432)
              --cluster NAME             the cluster the file belongs to
              --token-file FILE          the server's bearer token, from a file only its owner can read: the
                                         token alone or 'Authorization: Bearer TOKEN' (env PGVAULT_TOKEN_FILE;
                                         or env PGVAULT_TOKEN; never put a token in archive_command itself)
              --cacert FILE              PEM certificates of the private CA that signed the server's HTTPS
                                         certificate (env PGVAULT_CACERT)
              --spool DIR                push ahead: a background pusher sends every WAL file PostgreSQL has
                                         marked ready (pg_wal/archive_status/*.ready), --parallel at a time,
                                         and the call for a file it has already pushed returns at once,
                                         without a JVM. DIR is relative to the data directory and must be a
                                         directory directly inside the WAL directory named pgvault...,
                                         e.g. pg_wal/pgvault-push (so it can never answer for another
                                         cluster's files, nor be one of PostgreSQL's own directories)
              --parallel N               files the pusher sends at once (default 2)
              --retry-for DURATION       how long a call retries an unreachable or busy server (default 10s)
            Exit codes: 0 stored (or already stored, identical); 1 refused or not stored: PostgreSQL keeps
            the file and calls again.
            Example:
              archive_command = '/opt/pgvault/bin/pgvault wal-push --server http://pgvault:8432 --cluster main
                                 --token-file /etc/pgvault/archive.token --spool pg_wal/pgvault-push %p'""";

    static final String DEFAULT_SERVER = "http://127.0.0.1:8432";
    /** How a push spool's name begins (bin/pgvault checks the same). */
    static final String SPOOL_PREFIX = "pgvault";
    static final int DEFAULT_PARALLEL = 2;
    static final int MAX_PARALLEL = 16;

    /**
     * @param file whether the last argument is {@code %p} (a call) or absent (the pusher)
     * @throws IllegalArgumentException for a missing or bad option, with what is expected
     */
    public static WalPushOptions parse(List<String> args, Map<String, String> env, boolean file) {
        String server = env.get("PGVAULT_SERVER");
        String token = env.get("PGVAULT_TOKEN");
        String tokenFile = env.get("PGVAULT_TOKEN_FILE");
        String caCert = env.get("PGVAULT_CACERT");
        String cluster = null;
        Path spool = null;
        int parallel = DEFAULT_PARALLEL;
        Duration retryFor = Duration.ofSeconds(10);
        List<String> positional = new ArrayList<>();
        for (int i = 0; i < args.size(); i++) {
            String a = args.get(i);
            if (!a.startsWith("--")) {
                positional.add(a);
                continue;
            }
            if (a.equals("--repo")) {
                throw new IllegalArgumentException("wal-push sends WAL to a pgvault server (--server URL), which checks it against the "
                        + "cluster, stores and catalogues it; there is no --repo for it");
            }
            if (i + 1 >= args.size()) {
                throw new IllegalArgumentException(a + " needs a value");
            }
            String v = args.get(++i);
            switch (a) {
                case "--server" -> server = v;
                case "--cluster" -> cluster = v;
                case "--token" -> throw new IllegalArgumentException("--token would show the token to anyone who can run "
                        + "SHOW archive_command; use --token-file FILE (or env PGVAULT_TOKEN)");
                case "--token-file" -> tokenFile = v;
                case "--cacert" -> caCert = v;
                case "--spool" -> spool = Path.of(v);
                case "--parallel" -> parallel = parallel(v);
                case "--retry-for" -> retryFor = duration(v);
                default -> throw new IllegalArgumentException("unknown option " + a);
            }
        }
        if (server == null || server.isBlank()) {
            server = DEFAULT_SERVER; // as every command that talks to the server
        }
        if (cluster == null || cluster.isBlank()) {
            throw new IllegalArgumentException("--cluster NAME is required");
        }
        if (positional.size() != (file ? 1 : 0)) {
            throw new IllegalArgumentException(file ? "expected one WAL file (%p), got " + positional : "unexpected arguments " + positional);
        }
        Path path = file ? Path.of(positional.get(0)) : null;
        if (path != null) {
            WalFileName.tryParse(path.getFileName().toString()).orElseThrow(() -> new IllegalArgumentException(
                    path + " is not a WAL file's path (archive_command passes %p, e.g. pg_wal/000000010000000000000001)"));
        }
        if (spool != null) {
            checkSpoolPlace(spool, path);
        }
        Path tokenPath = tokenFile == null || tokenFile.isBlank() ? null : Path.of(tokenFile);
        if (tokenPath != null) {
            token = BearerToken.fromFile(tokenPath);
        }
        Path caPath = caCert == null || caCert.isBlank() ? null : Path.of(caCert);
        return new WalPushOptions(URI.create(server), cluster, token, tokenPath, caPath, spool, parallel, retryFor, path);
    }

    /**
     * The spool must be a directory directly inside the WAL directory of the files it answers
     * for: a spool named after one cluster's pg_wal cannot answer for another cluster's file of
     * the same name, and goes when that pg_wal goes (a restore into the data directory).
     */
    private static void checkSpoolPlace(Path spool, Path file) {
        Path name = spool.getFileName();
        // Named pgvault*: a spool's owner clears its files, so it must never be PostgreSQL's own (archive_status, summaries) or a
        // name PostgreSQL may give a WAL file.
        boolean plain = name != null && !spool.isAbsolute() && name.toString().startsWith(SPOOL_PREFIX) && spool.normalize().equals(spool);
        if (!plain || spool.getParent() == null || (file != null && !spool.getParent().equals(file.getParent()))) {
            throw new IllegalArgumentException("--spool " + spool + ": the push spool must be a directory directly inside the WAL "
                    + "directory that holds %p (" + (file == null || file.getParent() == null ? "pg_wal" : file.getParent())
                    + "), named " + SPOOL_PREFIX + "..., given relative to the data directory, e.g. pg_wal/pgvault-push");
        }
    }

    /** The WAL directory, relative to the data directory: where the spool sits and archive_status is. */
    public Path walDirectory() {
        return spool != null ? spool.getParent() : file.getParent();
    }

    private static int parallel(String v) {
        try {
            int n = Integer.parseInt(v);
            if (n >= 1 && n <= MAX_PARALLEL) {
                return n;
            }
        } catch (NumberFormatException e) {
            // below
        }
        throw new IllegalArgumentException("--parallel takes 1 to " + MAX_PARALLEL + ", not " + v);
    }

    private static Duration duration(String v) {
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("(\\d{1,6})(ms|s|m)").matcher(v);
        if (!m.matches()) {
            throw new IllegalArgumentException("--retry-for takes a duration such as 500ms, 10s or 2m, not " + v);
        }
        long n = Long.parseLong(m.group(1));
        return switch (m.group(2)) {
            case "ms" -> Duration.ofMillis(n);
            case "s" -> Duration.ofSeconds(n);
            default -> Duration.ofMinutes(n);
        };
    }
}
