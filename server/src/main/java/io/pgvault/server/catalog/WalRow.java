package io.pgvault.server.catalog;

import io.micronaut.serde.annotation.Serdeable;

import java.time.Instant;

/** One archived WAL file as the catalog indexes it. */
@Serdeable
public record WalRow(String name, String kind, long timeline, Long segmentNumber, Long startLsn, long rawSize, long storedSize,
                     String codec, String sha256, String objectKey, Instant arrivedAt) {
}
