package io.pgvault.core.archive;

import io.pgvault.core.repo.ObjectHeader;

/**
 * What happened to a pushed WAL file.
 *
 * @param outcome {@link Outcome#STORED} when this call wrote it, {@link Outcome#DUPLICATE}
 *     when an identical file was already there (nothing rewritten)
 * @param key the object's key in the repository
 * @param header the stored object's header
 * @param storedBytes size of the stored object (envelope and compressed payload)
 */
public record ArchiveResult(Outcome outcome, String key, ObjectHeader header, long storedBytes) {

    public enum Outcome { STORED, DUPLICATE }
}
