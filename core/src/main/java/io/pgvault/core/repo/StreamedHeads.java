package io.pgvault.core.repo;

import io.pgvault.core.storage.ObjectStat;
import io.pgvault.core.storage.ObjectStore;
import io.pgvault.core.wal.WalFileName;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The streamed heads a repository holds for a cluster's unfinished segments, and which one
 * a reader takes.
 *
 * <p>Several servers may stream the same cluster one after the other (a lease moves when its
 * holder dies or pauses). Each stream writes its heads under its own fencing token ({@link
 * RepositoryLayout#streamingHead}) and replaces only those, so a stream that lost its lease
 * and wakes up later cannot shrink or overwrite what the new holder stored: there is no
 * read-compare-write between two servers to race. WAL is the same bytes at the same position
 * of a timeline whoever streamed it (a walsender sends only WAL its primary flushed), so the
 * longest head of a segment holds everything any of them stored: readers take that one.
 */
public final class StreamedHeads {

    private static final Logger LOG = LoggerFactory.getLogger(StreamedHeads.class);

    /** {@code {segment}.partial} (before tokens) or {@code {segment}.{token}.partial}. */
    private static final Pattern HEAD = Pattern.compile("([0-9A-F]{24})(?:\\.(\\d{1,19}))?\\.partial");

    /** One stored head: its key, the segment it starts, and the WAL bytes it holds. */
    public record Head(String key, WalFileName segment, long length) {
    }

    private StreamedHeads() {
    }

    /** The segment a head's key belongs to, if it is a head's key. */
    public static Optional<WalFileName> segmentOf(String key) {
        Matcher m = HEAD.matcher(key.substring(key.lastIndexOf('/') + 1));
        return m.matches() ? WalFileName.tryParse(m.group(1)) : Optional.empty();
    }

    /** Every head key under the cluster's streaming prefix, by segment (unread). */
    public static List<ObjectStat> list(ObjectStore store, String cluster) throws IOException {
        List<ObjectStat> heads = new ArrayList<>();
        for (ObjectStat stat : store.list(RepositoryLayout.streamingPrefix(cluster))) {
            if (segmentOf(stat.key()).isPresent()) {
                heads.add(stat);
            }
        }
        return heads;
    }

    /** Whether any head of {@code segment} is stored: one listing, no header read. */
    public static boolean any(ObjectStore store, String cluster, WalFileName segment) throws IOException {
        return !keysOf(store, cluster, segment).isEmpty();
    }

    /**
     * The longest readable head of {@code segment}. A head whose header cannot be read (damaged,
     * or written with another key) is passed over with a warning: it holds nothing a recovery
     * could use, and another head, or the stream going on, stands in for it.
     */
    public static Optional<Head> longest(ObjectStore store, String cluster, WalFileName segment) throws IOException {
        List<Head> heads = new ArrayList<>();
        for (String key : keysOf(store, cluster, segment)) {
            try {
                ObjectEnvelope.readHeader(store, key).ifPresent(header -> heads.add(new Head(key, segment.segmentName(), header.rawSize())));
            } catch (CorruptObjectException e) {
                LOG.warn("Streamed head {} is unreadable and passed over: {}", key, e.getMessage());
            }
        }
        return heads.stream().max(Comparator.comparingLong(Head::length).thenComparing(Head::key));
    }

    private static List<String> keysOf(ObjectStore store, String cluster, WalFileName segment) throws IOException {
        List<String> keys = new ArrayList<>();
        for (ObjectStat stat : store.list(RepositoryLayout.streamingPrefix(cluster) + segment.segmentName() + ".")) {
            if (segmentOf(stat.key()).filter(segment.segmentName()::equals).isPresent()) {
                keys.add(stat.key());
            }
        }
        return keys;
    }

    /**
     * Deletes the heads of {@code completed} and of every earlier segment of its timeline: once
     * a segment is archived whole its heads stand for nothing, and a stream that lost its lease
     * may still have written one after the new holder archived the segment.
     */
    public static void deleteThrough(ObjectStore store, String cluster, WalFileName completed) throws IOException {
        WalFileName last = completed.segmentName();
        List<String> done = new ArrayList<>();
        for (ObjectStat stat : list(store, cluster)) {
            WalFileName segment = segmentOf(stat.key()).orElseThrow();
            if (segment.timeline().equals(last.timeline()) && segment.toString().compareTo(last.toString()) <= 0) {
                done.add(stat.key());
            }
        }
        if (!done.isEmpty()) {
            store.delete(done);
        }
    }
}
