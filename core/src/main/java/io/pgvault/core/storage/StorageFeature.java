package io.pgvault.core.storage;

/** Guarantees a store gives beyond the base {@link ObjectStore} contract. */
public enum StorageFeature {
    /** {@link ObjectStore#putIfAbsent} is atomic against concurrent writers (local link(2), S3 If-None-Match). */
    CONDITIONAL_CREATE,
    /** Objects are read back as soon as a put returns, and listings include them at once. */
    READ_AFTER_WRITE
}
