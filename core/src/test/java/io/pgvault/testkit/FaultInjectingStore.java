package io.pgvault.testkit;

import io.pgvault.core.storage.ObjectStat;
import io.pgvault.core.storage.ObjectStore;
import io.pgvault.core.storage.StorageFeature;

import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Wraps a real store and injects faults, so callers can prove they lose nothing: fail
 * the Nth call of an operation (or every call from then on), cut reads short, or delay
 * calls. Rules are set while the test runs and apply to later calls.
 */
public final class FaultInjectingStore implements ObjectStore {

    public enum Op { PUT, PUT_IF_ABSENT, GET, STAT, LIST, DELETE }

    /** Makes the exception a failing call throws. */
    @FunctionalInterface
    public interface Failure {
        IOException create(Op op, String key);
    }

    private record Rule(int fromCall, boolean sticky, Failure failure) {
    }

    /** What another party does meanwhile: runs just before a call reaches the store. */
    @FunctionalInterface
    public interface Meanwhile {
        void run() throws Exception;
    }

    private record Interleaving(int atCall, Meanwhile action) {
    }

    private final ObjectStore delegate;
    private final Map<Op, AtomicInteger> calls = new ConcurrentHashMap<>();
    private final List<String> gets = new CopyOnWriteArrayList<>();
    private final Map<Op, Rule> rules = new ConcurrentHashMap<>();
    private final Map<Op, Duration> delays = new ConcurrentHashMap<>();
    private final Map<Op, Interleaving> interleavings = new ConcurrentHashMap<>();
    private volatile long truncateReadsAt = -1;
    private volatile long failReadsAt = -1;
    private volatile Failure readFailure;

    public FaultInjectingStore(ObjectStore delegate) {
        this.delegate = delegate;
    }

    /** The {@code nth} call of {@code op} from now on (1 = the next) fails once. */
    public FaultInjectingStore failNth(Op op, int nth, Failure failure) {
        rules.put(op, new Rule(count(op).get() + nth, false, failure));
        return this;
    }

    /** Every call of {@code op} from the {@code nth} one on fails, until {@link #heal()}. */
    public FaultInjectingStore failFrom(Op op, int nth, Failure failure) {
        rules.put(op, new Rule(count(op).get() + nth, true, failure));
        return this;
    }

    /** Reads end (silently, as a cut connection would look) after {@code bytes} bytes. */
    public FaultInjectingStore truncateReadsAt(long bytes) {
        this.truncateReadsAt = bytes;
        return this;
    }

    /** Object streams (but the format object's) fail with {@code failure} after {@code bytes}, as a cut connection does. */
    public FaultInjectingStore failReadsAt(long bytes, Failure failure) {
        this.failReadsAt = bytes;
        this.readFailure = failure;
        return this;
    }

    public FaultInjectingStore delay(Op op, Duration delay) {
        delays.put(op, delay);
        return this;
    }

    /**
     * Runs {@code action} once, just before the {@code nth} call of {@code op} from now on
     * (1 = the next) reaches the store: another writer acting between a caller's read and
     * its write, at exactly the worst moment.
     */
    public FaultInjectingStore meanwhile(Op op, int nth, Meanwhile action) {
        interleavings.put(op, new Interleaving(count(op).get() + nth, action));
        return this;
    }

    /** Removes every fault (what was recorded stays). */
    public FaultInjectingStore heal() {
        rules.clear();
        delays.clear();
        truncateReadsAt = -1;
        failReadsAt = -1;
        return this;
    }

    public int calls(Op op) {
        return count(op).get();
    }

    /** The keys of every GET so far, in order. */
    public List<String> gotKeys() {
        return List.copyOf(gets);
    }

    private AtomicInteger count(Op op) {
        return calls.computeIfAbsent(op, o -> new AtomicInteger());
    }

    private void before(Op op, String key) throws IOException {
        int call = count(op).incrementAndGet();
        Interleaving interleaving = interleavings.get(op);
        if (interleaving != null && interleaving.atCall() == call && interleavings.remove(op, interleaving)) {
            try {
                interleaving.action().run();
            } catch (Exception e) {
                throw new IOException("the interleaved action failed: " + e.getMessage(), e);
            }
        }
        Duration delay = delays.get(op);
        if (delay != null) {
            try {
                Thread.sleep(delay.toMillis());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted", e);
            }
        }
        Rule rule = rules.get(op);
        if (rule != null && (call == rule.fromCall() || (rule.sticky() && call >= rule.fromCall()))) {
            if (!rule.sticky()) {
                rules.remove(op, rule);
            }
            throw rule.failure().create(op, key);
        }
    }

    @Override
    public Set<StorageFeature> features() {
        return delegate.features();
    }

    @Override
    public String describe() {
        return "faulty(" + delegate.describe() + ")";
    }

    @Override
    public void put(String key, InputStream data, long length) throws IOException {
        before(Op.PUT, key);
        delegate.put(key, data, length);
    }

    @Override
    public void putFile(String key, Path file) throws IOException {
        before(Op.PUT, key);
        delegate.putFile(key, file);
    }

    @Override
    public boolean putIfAbsent(String key, InputStream data, long length) throws IOException {
        before(Op.PUT_IF_ABSENT, key);
        return delegate.putIfAbsent(key, data, length);
    }

    @Override
    public Optional<InputStream> get(String key) throws IOException {
        before(Op.GET, key);
        gets.add(key);
        Optional<InputStream> in = delegate.get(key);
        long limit = truncateReadsAt;
        long failAt = failReadsAt;
        if (failAt >= 0 && !key.equals(io.pgvault.core.repo.RepositoryFormat.KEY)) {
            Failure failure = readFailure;
            return in.map(stream -> new Truncating(stream, failAt, () -> failure.create(Op.GET, key)));
        }
        return limit < 0 ? in : in.map(stream -> new Truncating(stream, limit, null));
    }

    @Override
    public Optional<ObjectStat> stat(String key) throws IOException {
        before(Op.STAT, key);
        return delegate.stat(key);
    }

    @Override
    public List<ObjectStat> list(String prefix) throws IOException {
        before(Op.LIST, prefix);
        return delegate.list(prefix);
    }

    @Override
    public void delete(Collection<String> keys) throws IOException {
        before(Op.DELETE, String.join(",", keys));
        delegate.delete(keys);
    }

    @Override
    public void close() throws IOException {
        delegate.close();
    }

    private static final class Truncating extends FilterInputStream {
        private long left;

        /** Thrown at the limit instead of an early end, when set. */
        private final java.util.function.Supplier<IOException> failure;

        Truncating(InputStream in, long limit, java.util.function.Supplier<IOException> failure) {
            super(in);
            this.left = limit;
            this.failure = failure;
        }

        private int end() throws IOException {
            if (failure != null) {
                throw failure.get();
            }
            return -1;
        }

        @Override
        public int read() throws IOException {
            if (left <= 0) {
                return end();
            }
            int b = super.read();
            if (b >= 0) {
                left--;
            }
            return b;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            if (left <= 0) {
                return end();
            }
            int n = super.read(b, off, (int) Math.min(len, left));
            if (n > 0) {
                left -= n;
            }
            return n;
        }
    }
}
