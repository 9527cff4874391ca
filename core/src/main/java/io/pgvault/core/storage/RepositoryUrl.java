package io.pgvault.core.storage;

import java.net.URI;
import java.net.URISyntaxException;
import java.nio.file.Path;

/**
 * Where a repository lives, as users write it: {@code file:///var/lib/pgvault/repo} or
 * {@code s3://bucket/prefix}.
 */
public sealed interface RepositoryUrl {

    String EXPECTED = "expected file:///absolute/path (or file:relative/path) or s3://bucket/prefix";

    record Local(Path directory) implements RepositoryUrl {
        @Override
        public String toString() {
            return directory.toUri().toString();
        }
    }

    record S3(String bucket, String prefix) implements RepositoryUrl {
        @Override
        public String toString() {
            return "s3://" + bucket + (prefix.isEmpty() ? "" : "/" + prefix);
        }
    }

    /**
     * @throws IllegalArgumentException naming the text and the accepted forms
     */
    static RepositoryUrl parse(String text) {
        if (text == null || text.isBlank()) {
            throw new IllegalArgumentException("repository URL is empty: " + EXPECTED);
        }
        URI uri;
        try {
            uri = new URI(text.trim());
        } catch (URISyntaxException e) {
            throw new IllegalArgumentException("'" + text + "' is not a repository URL: " + EXPECTED);
        }
        String scheme = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(java.util.Locale.ROOT);
        switch (scheme) {
            case "file" -> {
                // file:///abs/path, or file:relative/path resolved against the working directory.
                String path = uri.isOpaque() ? uri.getSchemeSpecificPart() : uri.getPath();
                if (path == null || path.isEmpty()) {
                    throw new IllegalArgumentException("'" + text + "' names no directory: " + EXPECTED);
                }
                return new Local(Path.of(path).toAbsolutePath().normalize());
            }
            case "s3" -> {
                String bucket = uri.getHost();
                if (bucket == null || bucket.isEmpty()) {
                    throw new IllegalArgumentException("'" + text + "' names no bucket: " + EXPECTED);
                }
                String path = uri.getPath() == null ? "" : uri.getPath();
                return new S3(bucket, path.replaceAll("^/+|/+$", ""));
            }
            default -> throw new IllegalArgumentException("'" + text + "' has an unsupported scheme '" + scheme + "': " + EXPECTED);
        }
    }
}
