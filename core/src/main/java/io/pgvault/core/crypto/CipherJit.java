package io.pgvault.core.crypto;

import java.util.List;

/**
 * JVM options that get the JDK's AES-GCM compiled by C2 within a few calls, for the JVMs that
 * encrypt or decrypt a repository: the short-lived ones (recover, info, verify, wal-fetch and the
 * prefetcher), and the server, whose first few hundred MB of encrypted WAL and backups otherwise
 * cost it some 30 ms of CPU per 16 MiB segment pushed (archive_command 1.30x slower than on a clear
 * repository, against 1.02x with them: bench/README, session 21).
 * <p>
 * The AES, counter-mode and GHASH intrinsics run only inside C2-compiled code, and C2 compiles
 * their Java callers ({@code GHASH.update}, {@code GCTR.update}, ...) after some 5000 calls: one call
 * per 64 KiB ciphertext segment, so a fresh JVM decrypted its first 300 MB or so at 80-100 MB/s
 * instead of gigabytes per second. A restore of 112 MiB spent 100-170 ms of CPU in Java GHASH
 * code; decrypting 8 MiB took 95 ms in a fresh JVM and 8 ms with these options (bench/README,
 * session 20). Lowering the thresholds of these three classes alone costs a handful of small C2
 * compiles; the warm-up thread this replaces decrypted 3 MB in tiny segments on the other core.
 * <p>
 * {@code quiet} first: HotSpot prints every {@code CompileCommand} on standard output otherwise,
 * into PostgreSQL's log for each wal-fetch JVM a restore_command starts.
 * <p>
 * {@code bin/pgvault} and {@code bin/pgvault-server} pass the same options to the JVMs they start
 * ({@code CIPHER_JIT} there); they must come after any broader {@code CompileThresholdScaling} for
 * the same package, since HotSpot takes the last matching {@code CompileCommand}.
 */
public final class CipherJit {

    public static final List<String> JVM_OPTIONS = List.of(
            "-XX:CompileCommand=quiet",
            "-XX:CompileCommand=CompileThresholdScaling,com/sun/crypto/provider/GHASH.*,0.0001",
            "-XX:CompileCommand=CompileThresholdScaling,com/sun/crypto/provider/GCTR.*,0.0001",
            "-XX:CompileCommand=CompileThresholdScaling,com/sun/crypto/provider/CounterMode.*,0.0001");

    private CipherJit() {
    }

    /** Whether a JVM started with these arguments (its RuntimeMXBean's input arguments) has the options. */
    public static boolean appliedTo(List<String> jvmArguments) {
        return jvmArguments.containsAll(JVM_OPTIONS);
    }
}
