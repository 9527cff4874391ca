package io.pgvault.core.storage;

import java.time.Instant;

/** What a store knows about an object without reading it. */
public record ObjectStat(String key, long size, Instant lastModified) {
}
