package io.pgvault.core.security;

import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Pattern;

/**
 * One line of the server's tokens file ({@code pgvault.security.tokens-file}):
 * <pre>
 *   # name          role     clusters     hash
 *   main-archive    archive  main         sha256:9f86d08...
 *   restore-hosts   read     main,billing sha256:...
 *   ops             admin    *            sha256:...
 * </pre>
 * The file holds no secret, only hashes; {@code pgvault token create} prints the line.
 *
 * @param clusters the clusters the token may act on; empty means all ({@code *})
 */
public record ApiTokenEntry(String name, ApiRole role, Set<String> clusters, byte[] hash) {

    public static final String ALL_CLUSTERS = "*";
    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9_.@-]{0,62}");
    // The repository's rule for cluster names (RepositoryLayout), repeated so this stays a value type.
    private static final Pattern CLUSTER = Pattern.compile("[a-z0-9][a-z0-9_-]{0,62}");

    public ApiTokenEntry {
        if (!NAME.matcher(name).matches()) {
            throw new IllegalArgumentException("'" + name + "' is not a token name: expected 1-63 letters, digits, '_', '.', '@' or '-'");
        }
        for (String cluster : clusters) {
            if (!CLUSTER.matcher(cluster).matches()) {
                throw new IllegalArgumentException("'" + cluster + "' is not a cluster name: expected 1-63 lower-case letters, digits, "
                        + "'_' or '-', or * for all clusters");
            }
        }
        clusters = Set.copyOf(new TreeSet<>(clusters));
        if (hash.length != 32) {
            throw new IllegalArgumentException("a token hash is 32 bytes (SHA-256), not " + hash.length);
        }
        hash = hash.clone();
    }

    /** Whether the token may act on {@code cluster}. */
    public boolean covers(String cluster) {
        return clusters.isEmpty() || clusters.contains(cluster);
    }

    public boolean allClusters() {
        return clusters.isEmpty();
    }

    /** The clusters as written in the file: {@code *} or a comma-separated list. */
    public String clustersText() {
        return clusters.isEmpty() ? ALL_CLUSTERS : String.join(",", new TreeSet<>(clusters));
    }

    @Override
    public byte[] hash() {
        return hash.clone();
    }

    /** The line for the tokens file; {@link #parse} reads it back. */
    public String toLine() {
        return name + " " + role.word() + " " + clustersText() + " " + TokenSecret.hashText(hash);
    }

    /** For messages and logs: everything but the hash. */
    public String describe() {
        return "token '" + name + "' (role " + role.word() + ", clusters " + clustersText() + ")";
    }

    /** Parses {@code name role clusters hash}. @throws IllegalArgumentException naming what is wrong */
    public static ApiTokenEntry parse(String line) {
        String[] fields = line.strip().split("\\s+");
        if (fields.length != 4) {
            throw new IllegalArgumentException("expected 'name role clusters sha256:HASH', got " + fields.length + " field(s)");
        }
        return new ApiTokenEntry(fields[0], ApiRole.parse(fields[1]), parseClusters(fields[2]), TokenSecret.parseHash(fields[3]));
    }

    /** {@code *} for all, else a comma-separated list. */
    public static Set<String> parseClusters(String text) {
        if (text.equals(ALL_CLUSTERS)) {
            return Set.of();
        }
        List<String> names = Arrays.stream(text.split(",")).map(String::strip).toList();
        if (names.contains(ALL_CLUSTERS) || names.contains("")) {
            throw new IllegalArgumentException("'" + text + "' is not a cluster list: expected * alone, or names separated by commas");
        }
        return Set.copyOf(new TreeSet<>(names));
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof ApiTokenEntry other && name.equals(other.name) && role == other.role && clusters.equals(other.clusters)
                && Arrays.equals(hash, other.hash);
    }

    @Override
    public int hashCode() {
        return name.hashCode();
    }

    @Override
    public String toString() {
        return describe();
    }
}
