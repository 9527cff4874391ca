package io.pgvault.core.backup;

import io.pgvault.core.repo.CorruptObjectException;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.util.Arrays;
import java.util.Optional;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class FilePartTest {

    /** The file's own ustar header, as PostgreSQL sends it. */
    private static byte[] ustarHeader(String name, long size) {
        TarArchiveEntry entry = new TarArchiveEntry(name);
        entry.setSize(size);
        entry.setMode(0600);
        byte[] header = new byte[512];
        entry.writeEntryHeader(header);
        return header;
    }

    /** A piece holding one range: the headers FilePart makes, then the data padded to the block, then the end blocks. */
    private static TarArchiveEntry readBack(byte[] headers, int length) throws IOException {
        byte[] piece = Arrays.copyOf(headers, headers.length + (length + 511) / 512 * 512 + 1024);
        TarArchiveInputStream in = new TarArchiveInputStream(new ByteArrayInputStream(piece));
        return in.getNextEntry();
    }

    @Test
    void aRangeReadsBackAsTheFileWithItsOffsetAndWholeSize() throws IOException {
        byte[] original = ustarHeader("base/5/16397", 3L << 30);
        TarArchiveEntry entry = readBack(FilePart.headers(original, 1L << 30, 4096, 3L << 30), 4096);

        assertThat(entry.getName()).isEqualTo("base/5/16397");
        assertThat(entry.getSize()).isEqualTo(4096);
        assertThat(entry.getMode() & 0777).isEqualTo(0600);
        assertThat(FilePart.of(entry, "piece", Long.MAX_VALUE)).contains(new FilePart(1L << 30, 3L << 30));
    }

    @Test
    void aWholeFileIsNoRange() throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (TarArchiveOutputStream tar = new TarArchiveOutputStream(bytes)) {
            TarArchiveEntry e = new TarArchiveEntry("PG_VERSION");
            e.setSize(3);
            tar.putArchiveEntry(e);
            tar.write("17\n".getBytes());
            tar.closeArchiveEntry();
        }
        TarArchiveEntry entry = new TarArchiveInputStream(new ByteArrayInputStream(bytes.toByteArray())).getNextEntry();
        assertThat(FilePart.of(entry, "piece", Long.MAX_VALUE)).isEqualTo(Optional.empty());
    }

    @Test
    void malformedOrImpossibleRangesAreRefusedNamingThePieceAndTheEntry() throws IOException {
        TarArchiveEntry beyond = readBack(FilePart.headers(ustarHeader("base/5/1", 8192), 8192, 4096, 10_000), 4096);
        assertThatThrownBy(() -> FilePart.of(beyond, "pieces/base.tar.00003", Long.MAX_VALUE)).isInstanceOf(CorruptObjectException.class)
                .hasMessageContaining("pieces/base.tar.00003").hasMessageContaining("base/5/1").hasMessageContaining("malformed file range");

        TarArchiveEntry negative = new TarArchiveEntry("base/5/2");
        negative.setSize(10);
        negative.addPaxHeader(FilePart.OFFSET_KEY, "-512");
        negative.addPaxHeader(FilePart.SIZE_KEY, "1024");
        assertThatThrownBy(() -> FilePart.of(negative, "p", Long.MAX_VALUE)).isInstanceOf(CorruptObjectException.class);

        TarArchiveEntry garbled = new TarArchiveEntry("base/5/3");
        garbled.addPaxHeader(FilePart.OFFSET_KEY, "12x");
        assertThatThrownBy(() -> FilePart.of(garbled, "p", Long.MAX_VALUE)).isInstanceOf(CorruptObjectException.class).hasMessageContaining("12x");
    }

    @Test
    void aRangeCannotOverflowOrOutgrowTheBackup() throws IOException {
        TarArchiveEntry overflow = new TarArchiveEntry("base/5/4");
        overflow.setSize(4096);
        overflow.addPaxHeader(FilePart.OFFSET_KEY, Long.toString(Long.MAX_VALUE - 100));
        overflow.addPaxHeader(FilePart.SIZE_KEY, Long.toString(Long.MAX_VALUE));
        assertThatThrownBy(() -> FilePart.of(overflow, "p", Long.MAX_VALUE)).isInstanceOf(CorruptObjectException.class)
                .hasMessageContaining("base/5/4").hasMessageContaining("overflows");

        // A sparse file of a terabyte from a backup of a few megabytes: refused before it is created.
        TarArchiveEntry sparse = readBack(FilePart.headers(ustarHeader("base/5/5", 8192), 1L << 40, 4096, (1L << 40) + 4096), 4096);
        assertThatThrownBy(() -> FilePart.of(sparse, "p", 50L << 20)).isInstanceOf(CorruptObjectException.class)
                .hasMessageContaining("larger than the whole backup");
        assertThat(FilePart.of(sparse, "p", 2L << 40)).contains(new FilePart(1L << 40, (1L << 40) + 4096));
    }
}
