package io.pgvault.core.security;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.HexFormat;

/**
 * API tokens: 256 random bits, and the one-way form a server keeps instead of the token.
 * A plain SHA-256 suffices (no slow password hash): the input has 256 bits of entropy,
 * so there is nothing to guess, and the check stays cheap on every WAL push.
 */
public final class TokenSecret {

    /** Marks pgvault tokens so that secret scanners and humans recognise one. */
    public static final String PREFIX = "pgv_";
    private static final String HASH_PREFIX = "sha256:";
    private static final SecureRandom RANDOM = new SecureRandom();

    private TokenSecret() {
    }

    /** A new token: {@code pgv_} and 32 random bytes, base64url without padding. */
    public static String generate() {
        byte[] bytes = new byte[32];
        RANDOM.nextBytes(bytes);
        return PREFIX + Base64.getUrlEncoder().withoutPadding().encodeToString(bytes);
    }

    /** The SHA-256 of the token's UTF-8 bytes. */
    public static byte[] digest(String token) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(token.getBytes(StandardCharsets.UTF_8));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("the JDK has no SHA-256", e);
        }
    }

    /** The hash as written in the tokens file: {@code sha256:} and 64 hex digits. */
    public static String hashText(byte[] digest) {
        return HASH_PREFIX + HexFormat.of().formatHex(digest);
    }

    /** Inverse of {@link #hashText}. @throws IllegalArgumentException when it is not {@code sha256:} and 64 hex digits */
    public static byte[] parseHash(String text) {
        if (!text.startsWith(HASH_PREFIX) || text.length() != HASH_PREFIX.length() + 64) {
            throw new IllegalArgumentException("'" + abbreviate(text) + "' is not a token hash: expected sha256: and 64 hex digits "
                    + "(pgvault token create prints it); the token itself never belongs in the server's configuration");
        }
        try {
            return HexFormat.of().parseHex(text.substring(HASH_PREFIX.length()));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("'" + abbreviate(text) + "' is not a token hash: expected sha256: and 64 hex digits", e);
        }
    }

    /** Whether the token hashes to {@code digest}, in time independent of where they differ. */
    public static boolean matches(String token, byte[] digest) {
        return MessageDigest.isEqual(digest(token), digest);
    }

    // A wrong value may be a token pasted where its hash belongs: never echo it whole.
    private static String abbreviate(String text) {
        return text.length() <= 10 ? text : text.substring(0, 7) + "...";
    }
}
