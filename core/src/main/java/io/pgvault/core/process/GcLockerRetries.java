package io.pgvault.core.process;

import java.util.List;

/**
 * JVM options for the server: an allocation that finds the heap full while threads sit in JNI
 * critical regions (zstd-jni and lz4-java decoding segments hold the GC locker) waits for them to
 * leave and retries the collection up to 100 times, not 2. With JDK 17's default of 2, sixteen
 * parallel GETs of 64 MiB lz4 segments in a 256 MiB heap, on two busy cores, failed a 1 MiB
 * allocation with OutOfMemoryError ("Retried waiting for GCLocker too often allocating 131074
 * words") while most of the heap was garbage (ConcurrentWalFetchIT in CI). G1 pins regions
 * instead of locking out collections only from JDK 22 (JEP 423).
 * <p>
 * From JDK 22 the option does nothing, and JDK 25 no longer knows it (a JVM given it does not
 * start): {@code bin/pgvault-server} passes the same options ({@code GC_LOCKER} there) only when
 * its JVM accepts them, and the testkit's {@code ServerProcess} passes {@link #forThisJvm()}.
 */
public final class GcLockerRetries {

    public static final List<String> JVM_OPTIONS = List.of("-XX:+UnlockDiagnosticVMOptions", "-XX:GCLockerRetryAllocationCount=100");

    private GcLockerRetries() {
    }

    /** The options for a JVM of this one's version: none from JDK 22 on, where G1 pins regions instead. */
    public static List<String> forThisJvm() {
        return Runtime.version().feature() < 22 ? JVM_OPTIONS : List.of();
    }
}
