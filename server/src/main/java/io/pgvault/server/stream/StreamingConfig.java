package io.pgvault.server.stream;

import io.micronaut.context.annotation.ConfigurationProperties;
import io.pgvault.core.util.ByteSize;

import java.time.Duration;

/**
 * {@code pgvault.streaming.*}: how streamed clusters are followed. The flush interval and
 * size bound what a lost primary can take with it (the RPO); the retained-WAL warning
 * is the seeds' lesson that a slot nobody reads fills the primary's disk.
 */
@ConfigurationProperties("pgvault.streaming")
public class StreamingConfig {

    /** The unfinished segment's head is stored at least this often while WAL arrives. */
    private Duration flushInterval = Duration.ofSeconds(1);
    /** ... or once this many new bytes arrived, whichever comes first. */
    /** A size as {@link ByteSize} reads it (4MB, 4194304 ...), checked as it is set. */
    private String flushBytes = "4MB";
    /** How often PostgreSQL is told how far pgvault has written and stored. */
    private Duration statusInterval = Duration.ofSeconds(1);
    /** First wait before reconnecting; doubles up to {@code retry-max}. */
    private Duration retryMin = Duration.ofSeconds(1);
    private Duration retryMax = Duration.ofSeconds(30);
    /** How often the slot's health is read from the cluster. */
    private Duration slotCheckInterval = Duration.ofSeconds(10);
    /** Warn when the slot holds more WAL on the cluster than this. */
    private String retainedWalWarningBytes = "1GB";

    public Duration getFlushInterval() {
        return flushInterval;
    }

    public void setFlushInterval(Duration flushInterval) {
        this.flushInterval = flushInterval;
    }

    public String getFlushBytes() {
        return flushBytes;
    }

    public void setFlushBytes(String flushBytes) {
        ByteSize.parse("pgvault.streaming.flush-bytes", flushBytes);
        this.flushBytes = flushBytes;
    }

    public long flushBytes() {
        return ByteSize.parse("pgvault.streaming.flush-bytes", flushBytes);
    }

    public Duration getStatusInterval() {
        return statusInterval;
    }

    public void setStatusInterval(Duration statusInterval) {
        this.statusInterval = statusInterval;
    }

    public Duration getRetryMin() {
        return retryMin;
    }

    public void setRetryMin(Duration retryMin) {
        this.retryMin = retryMin;
    }

    public Duration getRetryMax() {
        return retryMax;
    }

    public void setRetryMax(Duration retryMax) {
        this.retryMax = retryMax;
    }

    public Duration getSlotCheckInterval() {
        return slotCheckInterval;
    }

    public void setSlotCheckInterval(Duration slotCheckInterval) {
        this.slotCheckInterval = slotCheckInterval;
    }

    public String getRetainedWalWarningBytes() {
        return retainedWalWarningBytes;
    }

    public void setRetainedWalWarningBytes(String retainedWalWarningBytes) {
        ByteSize.parse("pgvault.streaming.retained-wal-warning-bytes", retainedWalWarningBytes);
        this.retainedWalWarningBytes = retainedWalWarningBytes;
    }

    public long retainedWalWarningBytes() {
        return ByteSize.parse("pgvault.streaming.retained-wal-warning-bytes", retainedWalWarningBytes);
    }
}
