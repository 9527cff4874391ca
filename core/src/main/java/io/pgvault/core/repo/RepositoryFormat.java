package io.pgvault.core.repo;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.pgvault.core.storage.ObjectStore;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.time.Instant;
import java.util.Optional;

/**
 * The format-version object at the root of a repository ({@value #KEY}). Writers create
 * it once (conditionally, so two servers starting on one bucket agree); every reader
 * checks it first and refuses a repository written in a newer format.
 */
public final class RepositoryFormat {

    public static final String KEY = "pgvault-format.json";
    /** The layout version this code writes and the newest it reads. */
    public static final int CURRENT = 1;

    private static final ObjectMapper JSON = new ObjectMapper();

    /** The content of the format object. */
    @JsonIgnoreProperties(ignoreUnknown = true)
    public record Descriptor(int formatVersion, String createdAt, String createdBy) {
    }

    private RepositoryFormat() {
    }

    /**
     * Makes sure {@code store} holds a repository this code can write: creates the format
     * object when the store is empty of one, else checks it.
     */
    public static Descriptor initialize(ObjectStore store, String createdBy) throws IOException {
        Descriptor mine = new Descriptor(CURRENT, Instant.now().toString(), createdBy);
        byte[] bytes = JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(mine);
        if (store.putIfAbsent(KEY, new ByteArrayInputStream(bytes), bytes.length)) {
            return mine;
        }
        return check(store).orElseThrow(() -> new IOException(KEY + " vanished from " + store.describe() + " right after it existed; retry"));
    }

    /**
     * Reads and checks the format object.
     *
     * @return empty when the store holds no repository at all
     * @throws UnsupportedFormatException when a newer pgvault wrote the repository
     * @throws CorruptObjectException when the format object is unreadable
     */
    public static Optional<Descriptor> check(ObjectStore store) throws IOException {
        Optional<InputStream> in = store.get(KEY);
        if (in.isEmpty()) {
            return Optional.empty();
        }
        Descriptor descriptor;
        try (InputStream stream = in.get()) {
            descriptor = JSON.readValue(stream, Descriptor.class);
        } catch (com.fasterxml.jackson.core.JacksonException e) {
            throw new CorruptObjectException(KEY + " in " + store.describe() + " is not a readable format descriptor: "
                    + e.getOriginalMessage() + "; restore it from a copy or recreate it with formatVersion " + CURRENT, e);
        }
        if (descriptor.formatVersion() < 1) {
            throw new CorruptObjectException(KEY + " in " + store.describe() + " declares format version "
                    + descriptor.formatVersion() + "; expected 1 or later");
        }
        if (descriptor.formatVersion() > CURRENT) {
            throw new UnsupportedFormatException("the repository at " + store.describe() + " has format version "
                    + descriptor.formatVersion() + " (written by " + descriptor.createdBy() + "); this pgvault reads versions up to "
                    + CURRENT + ": upgrade pgvault to use this repository");
        }
        return Optional.of(descriptor);
    }

    /** Like {@link #check} but an empty store is an error that says so. */
    public static Descriptor require(ObjectStore store) throws IOException {
        return check(store).orElseThrow(() -> new IOException("no pgvault repository at " + store.describe()
                + ": " + KEY + " is missing (wrong URL or prefix, or nothing was ever archived there)"));
    }
}
