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
 * {@code bin/pgvault-server} passes the same options ({@code GC_LOCKER} there), and so does the
 * testkit's {@code ServerProcess}.
 */
public final class GcLockerRetries {

    public static final List<String> JVM_OPTIONS = List.of("-XX:+UnlockDiagnosticVMOptions", "-XX:GCLockerRetryAllocationCount=100");

    private GcLockerRetries() {
    }
}
