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
 * The JDK's AES-GCM is fast only once C2 has compiled it (about 3 GB/s here, against
 * about 80 MB/s interpreted). The prefetcher is a fresh JVM that would spend its first tens
 * of megabytes interpreting it, during the replay: it starts one low-priority thread that
 * encrypts and decrypts a few megabytes with a throwaway key while it still waits for
 * recover to finish unpacking (measured on 41 segments: replay 3.7-3.9 s without it, 3.3
 * and 3.7 s with it in two runs, 3.2-3.4 s on a clear repository).
 */
final class CipherWarmUp {

    private static final AtomicBoolean STARTED = new AtomicBoolean();
    private static final int ROUNDS = 48;

    private CipherWarmUp() {
    }

    static void start() {
        if (!STARTED.compareAndSet(false, true)) {
            return;
        }
        Thread thread = new Thread(CipherWarmUp::run, "pgvault-cipher-warm-up");
        thread.setDaemon(true);
        thread.setPriority(Thread.MIN_PRIORITY);
        thread.start();
    }

    private static void run() {
        try {
            byte[] key = new byte[32];
            new SecureRandom().nextBytes(key);
            AesGcmHkdfStreaming streaming = new AesGcmHkdfStreaming(key, "HmacSha256", 32, DataKey.SEGMENT_BYTES, 0);
            byte[] plain = new byte[256 << 10];
            byte[] aad = new byte[8];
            for (int i = 0; i < ROUNDS; i++) {
                ByteArrayOutputStream ciphertext = new ByteArrayOutputStream(plain.length + 1024);
                try (OutputStream out = streaming.newEncryptingStream(ciphertext, aad)) {
                    out.write(plain);
                }
                try (InputStream in = streaming.newDecryptingStream(new ByteArrayInputStream(ciphertext.toByteArray()), aad)) {
                    in.transferTo(OutputStream.nullOutputStream());
                }
            }
        } catch (GeneralSecurityException | IOException | RuntimeException e) {
            // only a warm-up: the real work compiles the same code, later
        }
    }
}
