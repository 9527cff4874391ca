package io.pgvault.core.compress;

/** Looks codecs up by the names used in configuration and object headers. */
public final class Codecs {

    public static final String EXPECTED = "expected zstd, zstd:LEVEL (1-19), lz4 or none";

    private Codecs() {
    }

    public static Codec defaultCodec() {
        return new ZstdCodec(ZstdCodec.DEFAULT_LEVEL);
    }

    /**
     * Parses a codec setting: {@code zstd}, {@code zstd:3}, {@code lz4}, {@code none}.
     * For reading, the level does not matter, so an object header's {@code zstd} suffices.
     */
    public static Codec parse(String spec) {
        if (spec == null || spec.isBlank()) {
            throw new IllegalArgumentException("compression is not set: " + EXPECTED);
        }
        String s = spec.trim().toLowerCase(java.util.Locale.ROOT);
        if (s.equals("zstd")) {
            return defaultCodec();
        }
        if (s.startsWith("zstd:")) {
            try {
                return new ZstdCodec(Integer.parseInt(s.substring(5)));
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("'" + spec + "' is not a compression setting: " + EXPECTED);
            }
        }
        return switch (s) {
            case "lz4" -> new Lz4Codec();
            case "none" -> new NoCodec();
            default -> throw new IllegalArgumentException("'" + spec + "' is not a compression setting: " + EXPECTED);
        };
    }
}
