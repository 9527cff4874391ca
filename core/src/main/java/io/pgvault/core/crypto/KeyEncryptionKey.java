package io.pgvault.core.crypto;

import io.pgvault.core.util.SecretFile;
import org.bouncycastle.crypto.generators.Argon2BytesGenerator;
import org.bouncycastle.crypto.params.Argon2Parameters;

import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.HexFormat;
import java.util.Optional;

/**
 * The key a DBA holds: it never encrypts data, only the repository's data keys, so
 * replacing it ({@code repo rotate-key}) rewrites one small object. It comes from a key
 * file that pgvault generated ({@value #KEY_FILE_PREFIX} and 32 random bytes in base64),
 * or from any other file taken as a passphrase and stretched with Argon2id, a
 * memory-hard KDF, with the salt and cost stored in the format object.
 *
 * @param id a fingerprint (HMAC of a fixed label), safe to show and store: it names the
 *     key in messages without revealing it
 */
public record KeyEncryptionKey(byte[] bytes, String id, Optional<Argon2id> derivation) {

    static final String KEY_FILE_PREFIX = "pgvault-repository-key-v1 ";
    private static final SecureRandom RANDOM = new SecureRandom();

    /** Argon2id's inputs, stored in the format object so the same passphrase derives the same key. */
    public record Argon2id(String salt, int memoryKiB, int iterations, int parallelism) {
        /** RFC 9106's second recommended option (64 MiB, 3 passes), with one lane: two cores here. */
        static Argon2id fresh() {
            byte[] salt = new byte[16];
            RANDOM.nextBytes(salt);
            return new Argon2id(Base64.getEncoder().encodeToString(salt), 64 * 1024, 3, 1);
        }

        byte[] derive(byte[] passphrase) {
            Argon2BytesGenerator generator = new Argon2BytesGenerator();
            generator.init(new Argon2Parameters.Builder(Argon2Parameters.ARGON2_id).withVersion(Argon2Parameters.ARGON2_VERSION_13)
                    .withSalt(Base64.getDecoder().decode(salt)).withMemoryAsKB(memoryKiB).withIterations(iterations)
                    .withParallelism(parallelism).build());
            byte[] key = new byte[32];
            generator.generateBytes(passphrase, key);
            return key;
        }
    }

    /** Writes a new random key file, readable by its owner only; refuses to replace one. */
    public static void generate(Path file) throws IOException {
        if (Files.exists(file)) {
            throw new IOException(file + " exists already: pgvault does not overwrite a key file (move it away, or use it)");
        }
        byte[] key = new byte[32];
        RANDOM.nextBytes(key);
        SecretFile.write(file, KEY_FILE_PREFIX + Base64.getEncoder().encodeToString(key) + "\n");
    }

    /**
     * Reads the key from {@code file}.
     *
     * @param derivation the repository's Argon2id inputs, for a passphrase file (ignored for a generated key file)
     * @throws IllegalArgumentException when the file is unreadable, readable by others, or empty
     */
    public static KeyEncryptionKey read(Path file, Optional<Argon2id> derivation) {
        String text = SecretFile.read(file, "the repository key");
        if (text.startsWith(KEY_FILE_PREFIX)) {
            byte[] key;
            try {
                key = Base64.getDecoder().decode(text.substring(KEY_FILE_PREFIX.length()).strip());
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException(file + " starts like a pgvault key file but its key is not base64: damaged?");
            }
            if (key.length != 32) {
                throw new IllegalArgumentException(file + " holds a " + key.length + "-byte key; a pgvault key is 32 bytes: damaged?");
            }
            return new KeyEncryptionKey(key, fingerprint(key), Optional.empty());
        }
        String passphrase = text.strip();
        if (passphrase.isEmpty()) {
            throw new IllegalArgumentException(file + " is empty: it must hold a passphrase or a key made by pgvault repo init --encrypt");
        }
        Argon2id params = derivation.orElseGet(Argon2id::fresh);
        byte[] key = params.derive(passphrase.getBytes(StandardCharsets.UTF_8));
        return new KeyEncryptionKey(key, fingerprint(key), Optional.of(params));
    }

    private static String fingerprint(byte[] key) {
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(key, "HmacSHA256"));
            byte[] digest = mac.doFinal("pgvault key-encryption-key id".getBytes(StandardCharsets.US_ASCII));
            return HexFormat.of().formatHex(digest, 0, 8);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }
}
