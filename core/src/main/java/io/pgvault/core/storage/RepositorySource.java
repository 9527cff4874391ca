package io.pgvault.core.storage;

import io.pgvault.core.storage.s3.S3Settings;

import java.io.IOException;
import java.net.URI;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * Where a repository is and how to reach it, as one value: what the server's
 * {@code pgvault.repository.*}, the CLI's {@code --repo}/{@code --s3-*} options and
 * {@code wal-fetch}'s arguments (which {@code recover} writes into restore_command) each
 * describe. It owns the environment variables that give the defaults, the one mapping to the
 * S3 client's settings, and the arguments it is written as and read back from.
 *
 * @param url file:///path or s3://bucket/prefix
 * @param s3CredentialsFile a 0600 file of {@code access-key=}/{@code secret-key=} lines, instead of the two keys
 * @param s3CaFile PEM certificates trusted for an HTTPS endpoint signed by a private CA
 */
public record RepositorySource(String url, String s3Endpoint, String s3Region, boolean s3PathStyle, String s3AccessKey, String s3SecretKey,
                               Path s3CredentialsFile, Path s3CaFile, boolean checksumsWhenRequired, boolean conditionalWrites) {

    public static final String DEFAULT_REGION = "us-east-1";

    public static final String URL_ENV = "PGVAULT_REPOSITORY_URL";
    private static final String S3_ENV = "PGVAULT_REPOSITORY_S3_";

    /** The options {@link #with} reads; on a command line each takes a value, except the {@link #FLAGS}. */
    public static final Set<String> OPTIONS = Set.of("--repo", "--s3-endpoint", "--s3-region", "--s3-path-style", "--s3-access-key",
            "--s3-secret-key", "--s3-credentials-file", "--s3-ca-file", "--s3-checksums-when-required", "--s3-conditional-writes");

    /** Options written without a value on a command line: present means true. */
    public static final Set<String> FLAGS = Set.of("--s3-path-style");

    public RepositorySource {
        s3Region = blankToNull(s3Region) == null ? DEFAULT_REGION : s3Region;
        s3Endpoint = blankToNull(s3Endpoint);
        s3AccessKey = blankToNull(s3AccessKey);
        s3SecretKey = blankToNull(s3SecretKey);
        url = blankToNull(url);
    }

    /** Nothing but the defaults: no URL yet, the SDK's credential chain, AWS's checksum and write behaviour as S3Settings has it. */
    public static RepositorySource none() {
        return new RepositorySource(null, null, DEFAULT_REGION, false, null, null, null, null, true, true);
    }

    /** The defaults the environment gives ({@code PGVAULT_REPOSITORY_URL}, {@code PGVAULT_REPOSITORY_S3_*}), the same for every command. */
    public static RepositorySource fromEnvironment(Map<String, String> env) {
        RepositorySource source = none();
        String url = env.get(URL_ENV);
        if (url != null && !url.isBlank()) {
            source = source.with("--repo", url);
        }
        for (String option : OPTIONS) {
            if (option.startsWith("--s3-")) {
                String value = env.get(S3_ENV + option.substring("--s3-".length()).replace('-', '_').toUpperCase(Locale.ROOT));
                if (value != null && !value.isBlank()) {
                    source = source.with(option, value);
                }
            }
        }
        return source;
    }

    /**
     * This source with one option set, as written on a command line.
     *
     * @throws IllegalArgumentException for an option not in {@link #OPTIONS} or a bad boolean
     */
    public RepositorySource with(String option, String value) {
        return switch (option) {
            case "--repo" -> new RepositorySource(value, s3Endpoint, s3Region, s3PathStyle, s3AccessKey, s3SecretKey, s3CredentialsFile, s3CaFile,
                    checksumsWhenRequired, conditionalWrites);
            case "--s3-endpoint" -> new RepositorySource(url, value, s3Region, s3PathStyle, s3AccessKey, s3SecretKey, s3CredentialsFile, s3CaFile,
                    checksumsWhenRequired, conditionalWrites);
            case "--s3-region" -> new RepositorySource(url, s3Endpoint, value, s3PathStyle, s3AccessKey, s3SecretKey, s3CredentialsFile, s3CaFile,
                    checksumsWhenRequired, conditionalWrites);
            case "--s3-path-style" -> new RepositorySource(url, s3Endpoint, s3Region, bool(option, value), s3AccessKey, s3SecretKey,
                    s3CredentialsFile, s3CaFile, checksumsWhenRequired, conditionalWrites);
            case "--s3-access-key" -> new RepositorySource(url, s3Endpoint, s3Region, s3PathStyle, value, s3SecretKey, s3CredentialsFile, s3CaFile,
                    checksumsWhenRequired, conditionalWrites);
            case "--s3-secret-key" -> new RepositorySource(url, s3Endpoint, s3Region, s3PathStyle, s3AccessKey, value, s3CredentialsFile, s3CaFile,
                    checksumsWhenRequired, conditionalWrites);
            case "--s3-credentials-file" -> new RepositorySource(url, s3Endpoint, s3Region, s3PathStyle, s3AccessKey, s3SecretKey, path(value),
                    s3CaFile, checksumsWhenRequired, conditionalWrites);
            case "--s3-ca-file" -> new RepositorySource(url, s3Endpoint, s3Region, s3PathStyle, s3AccessKey, s3SecretKey, s3CredentialsFile,
                    path(value), checksumsWhenRequired, conditionalWrites);
            case "--s3-checksums-when-required" -> new RepositorySource(url, s3Endpoint, s3Region, s3PathStyle, s3AccessKey, s3SecretKey,
                    s3CredentialsFile, s3CaFile, bool(option, value), conditionalWrites);
            case "--s3-conditional-writes" -> new RepositorySource(url, s3Endpoint, s3Region, s3PathStyle, s3AccessKey, s3SecretKey,
                    s3CredentialsFile, s3CaFile, checksumsWhenRequired, bool(option, value));
            default -> throw new IllegalArgumentException("unknown option " + option);
        };
    }

    /**
     * Only how to authenticate (keys, credentials file), the rest back to the defaults: what an
     * explicit {@code --repo} in restore_command starts from, so that settings in the environment
     * of PostgreSQL's OS user cannot change what the written options say.
     */
    public RepositorySource credentialsOnly() {
        return new RepositorySource(null, null, DEFAULT_REGION, false, s3AccessKey, s3SecretKey, s3CredentialsFile, null, true, true);
    }

    /** Without keys given inline; a credentials file stays. */
    public RepositorySource withoutInlineKeys() {
        return new RepositorySource(url, s3Endpoint, s3Region, s3PathStyle, null, null, s3CredentialsFile, s3CaFile, checksumsWhenRequired,
                conditionalWrites);
    }

    /** The keys given inline replaced by a credentials file (restore_command must never carry them). */
    public RepositorySource withCredentialsFile(Path file) {
        return new RepositorySource(url, s3Endpoint, s3Region, s3PathStyle, null, null, file == null ? null : file.toAbsolutePath(), s3CaFile,
                checksumsWhenRequired, conditionalWrites);
    }

    public boolean hasUrl() {
        return url != null;
    }

    public boolean isS3() {
        return url != null && url.regionMatches(true, 0, "s3:", 0, 3);
    }

    /** Whether keys were given inline (options or environment) rather than by file or the SDK's chain. */
    public boolean hasInlineKeys() {
        return s3AccessKey != null;
    }

    /**
     * The options that describe this source, for another pgvault process: read back with {@link #with}
     * (a {@link #FLAGS flag} as {@code with(flag, "true")}), they give an equal value. Keys given inline are never written (a process's arguments are
     * visible to every local user): call {@link #withCredentialsFile} first; defaults are left out.
     *
     * @throws IllegalStateException when keys are inline
     */
    public List<String> arguments() {
        if (hasInlineKeys()) {
            throw new IllegalStateException("S3 keys are never passed as arguments: move them to a credentials file first");
        }
        // Absolute: restore_command runs in the data directory.
        List<String> args = new ArrayList<>(List.of("--repo", RepositoryUrl.parse(url).toString()));
        if (!isS3()) {
            return args;
        }
        if (s3Endpoint != null) {
            args.addAll(List.of("--s3-endpoint", s3Endpoint));
        }
        if (!s3Region.equals(DEFAULT_REGION)) {
            args.addAll(List.of("--s3-region", s3Region));
        }
        if (s3PathStyle) {
            args.add("--s3-path-style");
        }
        if (s3CredentialsFile != null) {
            args.addAll(List.of("--s3-credentials-file", s3CredentialsFile.toString()));
        }
        if (s3CaFile != null) {
            args.addAll(List.of("--s3-ca-file", s3CaFile.toString()));
        }
        if (!checksumsWhenRequired) {
            args.addAll(List.of("--s3-checksums-when-required", "false"));
        }
        if (!conditionalWrites) {
            args.addAll(List.of("--s3-conditional-writes", "false"));
        }
        return args;
    }

    /** The one mapping onto the S3 client's settings. */
    public S3Settings customize(S3Settings settings) {
        S3Settings result = settings.withRegion(s3Region);
        if (s3Endpoint != null) {
            result = result.withEndpoint(URI.create(s3Endpoint), s3PathStyle);
        }
        if (s3CredentialsFile != null) {
            result = result.withCredentialsFile(s3CredentialsFile);
        } else if (s3AccessKey != null) {
            result = result.withCredentials(s3AccessKey, s3SecretKey);
        }
        return result.withCaFile(s3CaFile).withConditionalWrites(conditionalWrites).withChecksumsWhenRequired(checksumsWhenRequired);
    }

    /** The objects as stored (not decrypted). */
    public ObjectStore open() throws IOException {
        if (url == null) {
            throw new IllegalArgumentException("--repo URL is required (or env " + URL_ENV + ")");
        }
        return ObjectStores.open(RepositoryUrl.parse(url), this::customize);
    }

    @Override
    public String toString() {
        // Never the secret key.
        return "RepositorySource[" + url + (isS3() ? ", endpoint " + s3Endpoint + ", region " + s3Region : "") + "]";
    }

    private static boolean bool(String option, String value) {
        return switch (value.strip().toLowerCase(Locale.ROOT)) {
            case "true", "on", "yes", "1" -> true;
            case "false", "off", "no", "0" -> false;
            default -> throw new IllegalArgumentException(option + " takes true or false, not '" + value + "'");
        };
    }

    private static Path path(String value) {
        return value == null || value.isBlank() ? null : Path.of(value).toAbsolutePath();
    }

    private static String blankToNull(String s) {
        return s == null || s.isBlank() ? null : s;
    }
}
