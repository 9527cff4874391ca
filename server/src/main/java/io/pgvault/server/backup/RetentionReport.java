package io.pgvault.server.backup;

import io.micronaut.serde.annotation.Serdeable;

import java.util.List;

/** What retention kept and deleted (or would, in a dry run). */
@Serdeable
public record RetentionReport(boolean dryRun, List<String> keptBackups, List<String> deletedBackups, List<String> deletedWal) {
}
