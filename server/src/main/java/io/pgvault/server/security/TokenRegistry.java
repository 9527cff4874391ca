package io.pgvault.server.security;

import io.micronaut.context.annotation.Context;
import io.pgvault.core.security.ApiRole;
import io.pgvault.core.security.ApiTokenEntry;
import io.pgvault.core.security.TokenSecret;
import io.pgvault.server.config.ServerConfig;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.PosixFileAttributeView;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * The tokens this server accepts, as hashes only: the lines of
 * {@code pgvault.security.tokens-file} and the legacy {@code pgvault.security.token}
 * (role admin, all clusters; its hash is taken at start and the value dropped).
 * The file is re-read when it changes, so a new token needs no restart; a file that no
 * longer parses keeps the tokens in force and logs why. A bad file at start stops the start.
 */
@Context
public class TokenRegistry {

    private static final Logger LOG = LoggerFactory.getLogger(TokenRegistry.class);
    /** The legacy token's name in messages and logs. */
    static final String LEGACY_NAME = "pgvault.security.token";
    private static final long RECHECK_NANOS = 1_000_000_000L;

    private record Snapshot(List<ApiTokenEntry> fromFile, Object fileVersion) {
    }

    private final Optional<ApiTokenEntry> legacy;
    private final Path tokensFile;
    private volatile Snapshot snapshot;
    private volatile long checkedAt;

    public TokenRegistry(ServerConfig config) {
        String token = config.getSecurity().getToken();
        this.legacy = token == null || token.isBlank() ? Optional.empty()
                : Optional.of(new ApiTokenEntry(LEGACY_NAME, ApiRole.ADMIN, Set.of(), TokenSecret.digest(token.strip())));
        String file = config.getSecurity().getTokensFile();
        this.tokensFile = file == null || file.isBlank() ? null : Path.of(file);
        if (tokensFile == null) {
            this.snapshot = new Snapshot(List.of(), null);
        } else {
            this.snapshot = load(tokensFile);
            LOG.info("{} token(s) from {}{}", snapshot.fromFile().size(), tokensFile, legacy.isPresent() ? ", and the legacy " + LEGACY_NAME : "");
        }
        this.checkedAt = System.nanoTime();
    }

    /** Whether any token is configured; without one the API is open. */
    public boolean enabled() {
        return legacy.isPresent() || tokensFile != null;
    }

    /** The entry whose hash the presented token has; every entry is compared, in constant time each. */
    public Optional<ApiTokenEntry> find(String presented) {
        byte[] digest = TokenSecret.digest(presented);
        ApiTokenEntry found = null;
        for (ApiTokenEntry entry : entries()) {
            if (MessageDigest.isEqual(digest, entry.hash()) && found == null) {
                found = entry;
            }
        }
        return Optional.ofNullable(found);
    }

    /** The tokens in force (the file's, re-read if it changed, and the legacy one). */
    public List<ApiTokenEntry> entries() {
        refreshIfChanged();
        List<ApiTokenEntry> all = new ArrayList<>(snapshot.fromFile());
        legacy.ifPresent(all::add);
        return all;
    }

    private void refreshIfChanged() {
        if (tokensFile == null || System.nanoTime() - checkedAt < RECHECK_NANOS) {
            return;
        }
        synchronized (this) {
            checkedAt = System.nanoTime();
            try {
                if (version(tokensFile).equals(snapshot.fileVersion())) {
                    return;
                }
                Snapshot next = load(tokensFile);
                snapshot = next;
                LOG.info("re-read {}: {} token(s)", tokensFile, next.fromFile().size());
            } catch (RuntimeException | IOException e) {
                LOG.error("{} changed but cannot be used, so the tokens read before stay in force: {}", tokensFile, e.getMessage());
            }
        }
    }

    private static Object version(Path file) throws IOException {
        BasicFileAttributes a = Files.readAttributes(file, BasicFileAttributes.class);
        return List.of(a.lastModifiedTime(), a.size(), String.valueOf(a.fileKey()));
    }

    /** @throws IllegalArgumentException naming the file and line, never a line's content */
    static Snapshot load(Path file) {
        try {
            Object version = version(file);
            checkNotWritableByOthers(file);
            List<String> lines = Files.readAllLines(file);
            List<ApiTokenEntry> entries = new ArrayList<>();
            Set<String> names = new HashSet<>();
            for (int i = 0; i < lines.size(); i++) {
                String line = lines.get(i).strip();
                if (line.isEmpty() || line.startsWith("#")) {
                    continue;
                }
                ApiTokenEntry entry;
                try {
                    entry = ApiTokenEntry.parse(line);
                } catch (IllegalArgumentException e) {
                    throw new IllegalArgumentException(file + " line " + (i + 1) + ": " + e.getMessage());
                }
                if (!names.add(entry.name())) {
                    throw new IllegalArgumentException(file + " line " + (i + 1) + ": the name '" + entry.name() + "' is used twice; names must be unique");
                }
                for (ApiTokenEntry other : entries) {
                    if (MessageDigest.isEqual(other.hash(), entry.hash())) {
                        throw new IllegalArgumentException(file + " line " + (i + 1) + ": the same token hash as '" + other.name()
                                + "'; give each use its own token");
                    }
                }
                entries.add(entry);
            }
            return new Snapshot(List.copyOf(entries), version);
        } catch (NoSuchFileException e) {
            throw new IllegalArgumentException("pgvault.security.tokens-file names " + file + ", which does not exist; "
                    + "create it (pgvault token create prints its lines) or unset the setting", e);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read pgvault.security.tokens-file " + file + ": " + e.getMessage(), e);
        }
    }

    // Whoever may write the file may give themselves an admin token.
    private static void checkNotWritableByOthers(Path file) throws IOException {
        PosixFileAttributeView view = Files.getFileAttributeView(file, PosixFileAttributeView.class);
        if (view == null) {
            return;
        }
        Set<PosixFilePermission> mode = view.readAttributes().permissions();
        if (mode.contains(PosixFilePermission.GROUP_WRITE) || mode.contains(PosixFilePermission.OTHERS_WRITE)) {
            throw new IllegalArgumentException("pgvault.security.tokens-file " + file + " may be written by group or others ("
                    + PosixFilePermissions.toString(mode) + "), who could add a token of their own; chmod go-w " + file);
        }
    }
}
