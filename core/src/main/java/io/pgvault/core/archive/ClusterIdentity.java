package io.pgvault.core.archive;

import io.pgvault.core.wal.WalSegmentSize;

import java.util.Optional;
import java.util.OptionalLong;

/**
 * What a cluster's first segment fixed: its system identifier and segment size. Both are
 * empty until then; afterwards every segment must match them.
 */
public record ClusterIdentity(OptionalLong systemIdentifier, Optional<WalSegmentSize> segmentSize) {

    public static final ClusterIdentity UNKNOWN = new ClusterIdentity(OptionalLong.empty(), Optional.empty());

    public static ClusterIdentity of(long systemIdentifier, WalSegmentSize segmentSize) {
        return new ClusterIdentity(OptionalLong.of(systemIdentifier), Optional.of(segmentSize));
    }

    public boolean isKnown() {
        return systemIdentifier.isPresent() && segmentSize.isPresent();
    }
}
