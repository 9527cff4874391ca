package io.pgvault.core.wal;

import java.util.Arrays;
import java.util.Optional;
import java.util.stream.Collectors;

/**
 * The PostgreSQL major versions pgvault understands, with the WAL page magic each one
 * writes ({@code XLOG_PAGE_MAGIC} in {@code src/include/access/xlog_internal.h}). The
 * magic changes whenever the WAL format does, so it tells the major of a segment.
 */
public enum PgMajor {
    PG14(14, 0xD10D),
    PG15(15, 0xD110),
    PG16(16, 0xD113),
    PG17(17, 0xD116),
    PG18(18, 0xD118);

    private final int number;
    private final int pageMagic;

    PgMajor(int number, int pageMagic) {
        this.number = number;
        this.pageMagic = pageMagic;
    }

    public int number() {
        return number;
    }

    public int pageMagic() {
        return pageMagic;
    }

    public static Optional<PgMajor> byPageMagic(int magic) {
        return Arrays.stream(values()).filter(m -> m.pageMagic == magic).findFirst();
    }

    public static PgMajor of(int number) {
        return Arrays.stream(values()).filter(m -> m.number == number).findFirst()
                .orElseThrow(() -> new IllegalArgumentException("PostgreSQL " + number
                        + " is not supported: expected one of " + supportedList()));
    }

    static String supportedList() {
        return Arrays.stream(values())
                .map(m -> m.number + String.format(" (0x%04X)", m.pageMagic))
                .collect(Collectors.joining(", "));
    }
}
