package io.pgvault.core.crypto;

import com.google.crypto.tink.subtle.AesGcmHkdfStreaming;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.security.GeneralSecurityException;
import java.security.SecureRandom;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Gets the JDK's AES-GCM decryption compiled by C2 before a fresh JVM needs it. The AES,
 * counter-mode and GHASH intrinsics only run inside C2-compiled callers, and C2 compiles
 * the caller that matters ({@code GCMDecrypt.doFinal}) after about 5000 calls: one call per
 * ciphertext segment, so with the repository's 64 KiB segments the first 300 MB or so would
 * run at about 85 MB/s instead of gigabytes per second. A prefetcher decrypts 1-2 MB per WAL
 * segment: without this it spent 18 ms on each (0.75 s over 41 segments), with it under 1 ms.
 * <p>
 * So the warm-up decrypts tiny segments (512 bytes) many times: the 6000 calls cost about
 * 3 MB of decryption and a quarter of a second of one core, in the background.
 */
final class CipherWarmUp {

    private static final AtomicBoolean STARTED = new AtomicBoolean();
    private static final int SEGMENT_BYTES = 512;
    private static final int PLAINTEXT_BYTES = 256 << 10;
    private static final int ROUNDS = 12;

    private CipherWarmUp() {
    }

    static void start() {
        if (!STARTED.compareAndSet(false, true)) {
            return;
        }
        Thread thread = new Thread(CipherWarmUp::run, "pgvault-cipher-warm-up");
        thread.setDaemon(true);
        thread.start();
    }

    private static void run() {
        try {
            byte[] key = new byte[32];
            new SecureRandom().nextBytes(key);
            AesGcmHkdfStreaming streaming = new AesGcmHkdfStreaming(key, "HmacSha256", 32, SEGMENT_BYTES, 0);
            byte[] aad = new byte[8];
            ByteArrayOutputStream ciphertext = new ByteArrayOutputStream(PLAINTEXT_BYTES + PLAINTEXT_BYTES / 8);
            try (OutputStream out = streaming.newEncryptingStream(ciphertext, aad)) {
                out.write(new byte[PLAINTEXT_BYTES]);
            }
            byte[] bytes = ciphertext.toByteArray();
            for (int i = 0; i < ROUNDS; i++) {
                try (InputStream in = streaming.newDecryptingStream(new ByteArrayInputStream(bytes), aad)) {
                    in.transferTo(OutputStream.nullOutputStream());
                }
            }
        } catch (GeneralSecurityException | IOException | RuntimeException e) {
            // only a warm-up: the real work compiles the same code, later
        }
    }
}
