package io.pgvault.core.util;

import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Sizes in configuration, one grammar for every setting: a number of bytes, or a number with a
 * unit, powers of 1024 as PostgreSQL's own settings read them ({@code 64MB} = 64 MiB): {@code B},
 * {@code kB}/{@code K}/{@code KiB}, {@code MB}/{@code M}/{@code MiB}, {@code GB}/{@code G}/{@code GiB},
 * {@code TB}/{@code T}/{@code TiB}, any case, a space allowed before the unit.
 */
public final class ByteSize {

    public static final String EXPECTED = "expected bytes or a number with kB, MB, GB or TB (powers of 1024), e.g. 64MB";

    private static final Pattern SIZE = Pattern.compile("(\\d+)\\s*([a-z]*)");

    private ByteSize() {
    }

    /** @throws IllegalArgumentException naming {@code setting} and the accepted forms */
    public static long parse(String setting, String text) {
        Matcher m = text == null ? null : SIZE.matcher(text.strip().toLowerCase(Locale.ROOT));
        if (m == null || !m.matches()) {
            throw new IllegalArgumentException(setting + " '" + text + "' is not a size: " + EXPECTED);
        }
        int shift = switch (m.group(2)) {
            case "", "b" -> 0;
            case "k", "kb", "kib" -> 10;
            case "m", "mb", "mib" -> 20;
            case "g", "gb", "gib" -> 30;
            case "t", "tb", "tib" -> 40;
            default -> throw new IllegalArgumentException(setting + " '" + text + "' has an unknown unit '" + m.group(2) + "': " + EXPECTED);
        };
        try {
            long number = Long.parseLong(m.group(1));
            if (number > (Long.MAX_VALUE >> shift)) {
                throw new NumberFormatException();
            }
            return number << shift;
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(setting + " '" + text + "' is too large", e);
        }
    }

    /** A size as a DBA reads it in a message: bytes, KiB, MiB or GiB. */
    public static String format(long bytes) {
        if (bytes < 1024) {
            return bytes + " bytes";
        }
        if (bytes < 1024 * 1024) {
            return String.format(Locale.ROOT, "%.1f KiB", bytes / 1024.0);
        }
        if (bytes < 1024L * 1024 * 1024) {
            return String.format(Locale.ROOT, "%.1f MiB", bytes / 1048576.0);
        }
        return String.format(Locale.ROOT, "%.2f GiB", bytes / 1073741824.0);
    }
}
