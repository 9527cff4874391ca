package io.pgvault.server.lease;

/**
 * This server's hold on one cluster's lease: while it lasts, this server alone streams the
 * cluster, runs its scheduled backups and applies its retention. {@code token} is the fencing
 * token drawn when the lease was taken; what the holding writes that another holding could
 * also write is kept apart by it.
 */
public record Lease(long clusterId, String cluster, long token) {
}
