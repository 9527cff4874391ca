package io.pgvault.core.backup;

import io.pgvault.core.repo.CorruptObjectException;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** PostgreSQL's incremental file as untrusted input: which names are one, and headers that do not add up. */
class IncrementalFileTest {

    /** A header as PostgreSQL writes it (little-endian, padded to a block when blocks follow), and the blocks. */
    private static byte[] file(int magic, long truncation, int... blocks) {
        long header = IncrementalFile.headerBytes(blocks.length);
        ByteBuffer b = ByteBuffer.allocate((int) (header + (long) blocks.length * IncrementalFile.BLOCK_SIZE)).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(magic).putInt(blocks.length).putInt((int) truncation);
        for (int block : blocks) {
            b.putInt(block);
        }
        return b.array();
    }

    private static IncrementalFile read(byte[] bytes) throws IOException {
        return IncrementalFile.readHeader(new ByteArrayInputStream(bytes), bytes.length, "piece: base/5/INCREMENTAL.16384");
    }

    @Test
    void onlyRelationFilesWherePostgresqlPutsThemAreIncremental() {
        assertThat(IncrementalFile.isIncremental("base/5/INCREMENTAL.16384")).isTrue();
        assertThat(IncrementalFile.isIncremental("global/INCREMENTAL.1262")).isTrue();
        assertThat(IncrementalFile.isIncremental("base/16384/INCREMENTAL.16385_vm")).isTrue();
        assertThat(IncrementalFile.isIncremental("PG_17_202406281/5/INCREMENTAL.16390.1")).isTrue();
        assertThat(IncrementalFile.targetName("PG_17_202406281/5/INCREMENTAL.16390.1")).isEqualTo("PG_17_202406281/5/16390.1");
        // Anything else so named is an ordinary file: it cannot stand in for tablespace_map, backup_label or a path outside.
        assertThat(IncrementalFile.isIncremental("INCREMENTAL.tablespace_map")).isFalse();
        assertThat(IncrementalFile.isIncremental("INCREMENTAL.backup_label")).isFalse();
        assertThat(IncrementalFile.isIncremental("base/5/INCREMENTAL..")).isFalse();
        assertThat(IncrementalFile.isIncremental("base/5/INCREMENTAL.../x")).isFalse();
        assertThat(IncrementalFile.isIncremental("pg_wal/INCREMENTAL.16384")).isFalse();
        assertThat(IncrementalFile.isIncremental("base/5/INCREMENTAL.16384_toast")).isFalse();
    }

    @Test
    void aHeaderIsReadAndItsLengthComputed() throws IOException {
        IncrementalFile f = read(file(IncrementalFile.MAGIC, 10, 3, 12));
        assertThat(f.truncationBlocks()).isEqualTo(10);
        assertThat(f.blocks()).containsExactly(3, 12);
        assertThat(f.lengthBlocks()).as("past the truncation length when a block is").isEqualTo(13);
        assertThat(read(file(IncrementalFile.MAGIC, 0)).lengthBlocks()).as("no blocks: a 12-byte file, no padding").isZero();
        // PostgreSQL before 17.8 could send a truncation length past the segment: capped, not refused.
        assertThat(read(file(IncrementalFile.MAGIC, IncrementalFile.MAX_BLOCKS + 1)).truncationBlocks()).isEqualTo(IncrementalFile.MAX_BLOCKS);
    }

    @Test
    void headersThatDoNotAddUpAreRefused() {
        assertThatThrownBy(() -> read(file(0x12345678, 1, 0))).isInstanceOf(CorruptObjectException.class)
                .hasMessageContaining("not PostgreSQL's incremental file magic");
        assertThatThrownBy(() -> read(file(IncrementalFile.MAGIC, 4, 2, 2))).isInstanceOf(CorruptObjectException.class)
                .hasMessageContaining("lists block 2 twice");
        assertThatThrownBy(() -> read(file(IncrementalFile.MAGIC, 4, (int) IncrementalFile.MAX_BLOCKS))).isInstanceOf(CorruptObjectException.class)
                .hasMessageContaining("beyond a relation segment");
        byte[] cut = file(IncrementalFile.MAGIC, 4, 1);
        assertThatThrownBy(() -> IncrementalFile.readHeader(new ByteArrayInputStream(cut), cut.length - 1, "piece: x"))
                .isInstanceOf(CorruptObjectException.class).hasMessageContaining("but its header of 1 blocks");
        // A block count the member's size cannot hold is refused before anything is allocated for it.
        byte[] claims = ByteBuffer.allocate(12).order(ByteOrder.LITTLE_ENDIAN).putInt(IncrementalFile.MAGIC).putInt(100_000).putInt(0).array();
        assertThatThrownBy(() -> read(claims)).isInstanceOf(CorruptObjectException.class).hasMessageContaining("is 12 bytes");
    }
}
