package io.pgvault.server;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Random;

/** WAL segments with a valid long page header and arbitrary content, for API tests (real WAL is tested with real servers). */
public final class SyntheticWal {

    public static final int MAGIC_PG17 = 0xD116;

    private SyntheticWal() {
    }

    public static byte[] segment(long segmentNumber, int segmentSizeMb, long systemIdentifier, long timeline, long seed) {
        int size = segmentSizeMb << 20;
        byte[] bytes = new byte[size];
        new Random(seed).nextBytes(bytes);
        ByteBuffer b = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        b.putShort(0, (short) MAGIC_PG17).putShort(2, (short) 2).putInt(4, (int) timeline).putLong(8, segmentNumber * size)
                .putInt(16, 0).putInt(20, 0).putLong(24, systemIdentifier).putInt(32, size).putInt(36, 8192);
        return bytes;
    }

    public static String name(long timeline, long segmentNumber, int segmentSizeMb) {
        long perId = 0x1_0000_0000L / ((long) segmentSizeMb << 20);
        return String.format("%08X%08X%08X", timeline, segmentNumber / perId, segmentNumber % perId);
    }
}
