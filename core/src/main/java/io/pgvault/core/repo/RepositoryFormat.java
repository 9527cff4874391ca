package io.pgvault.core.repo;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonInclude;
import io.pgvault.core.crypto.EncryptionDescriptor;
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
    /** The newest layout version this code reads: 2 is an encrypted repository (older pgvault refuse it cleanly). */
    public static final int CURRENT = 2;
    /** What an unencrypted repository is written as, so older pgvault keep reading it. */
    public static final int CLEAR = 1;
    public static final int ENCRYPTED = 2;

    private static final ObjectMapper JSON = new ObjectMapper();

    /**
     * The content of the format object.
     *
     * @param encryption null for a repository in clear text
     */
    @JsonIgnoreProperties(ignoreUnknown = true)
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record Descriptor(int formatVersion, String createdAt, String createdBy, EncryptionDescriptor encryption) {
        public Descriptor(int formatVersion, String createdAt, String createdBy) {
            this(formatVersion, createdAt, createdBy, null);
        }

        public boolean encrypted() {
            return encryption != null;
        }
    }

    private RepositoryFormat() {
    }

    /**
     * Makes sure {@code store} holds a repository this code can write: creates the format
     * object when the store is empty of one, else checks it.
     */
    public static Descriptor initialize(ObjectStore store, String createdBy) throws IOException {
        return initialize(store, new Descriptor(CLEAR, Instant.now().toString(), createdBy));
    }

    /** As {@link #initialize(ObjectStore, String)}, with this descriptor if none exists. */
    public static Descriptor initialize(ObjectStore store, Descriptor mine) throws IOException {
        byte[] bytes = JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(mine);
        if (store.putIfAbsent(KEY, () -> new ByteArrayInputStream(bytes), bytes.length)) {
            return mine;
        }
        return check(store).orElseThrow(() -> new IOException(KEY + " vanished from " + store.describe() + " right after it existed; retry"));
    }

    /** Replaces the format object (a key rotation): one put, so a reader sees the old or the new one whole. */
    public static void replace(ObjectStore store, Descriptor descriptor) throws IOException {
        byte[] bytes = JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(descriptor);
        store.put(KEY, () -> new ByteArrayInputStream(bytes), bytes.length);
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
        if (descriptor.formatVersion() == ENCRYPTED && descriptor.encryption() == null) {
            throw new CorruptObjectException(KEY + " in " + store.describe() + " declares an encrypted repository (format version "
                    + ENCRYPTED + ") but has no encryption block: it was edited; restore it from a copy");
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
        return check(store).orElseThrow(() -> new NoRepositoryException("no pgvault repository at " + store.describe()
                + ": " + KEY + " is missing (wrong URL or prefix, or nothing was ever archived there)"));
    }
}
