package io.pgvault.core.backup;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

class TarStreamCutterTest {

    /** Starts a new piece at every member end, like BackupWriter with a tiny piece size. */
    private static final class PiecePerMember implements TarStreamCutter.Entries {
        final List<ByteArrayOutputStream> pieces = new ArrayList<>();
        private ByteArrayOutputStream open;
        int members;

        @Override
        public OutputStream entryStarts() {
            if (open == null) {
                open = new ByteArrayOutputStream();
                pieces.add(open);
            }
            return open;
        }

        @Override
        public void memberEnded() {
            members++;
            open = null;
        }
    }

    private static byte[] sampleTar() throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (TarArchiveOutputStream tar = new TarArchiveOutputStream(bytes)) {
            tar.setLongFileMode(TarArchiveOutputStream.LONGFILE_POSIX);
            TarArchiveEntry dir = new TarArchiveEntry("base/");
            tar.putArchiveEntry(dir);
            tar.closeArchiveEntry();
            byte[] data = new byte[70_000];
            new Random(5).nextBytes(data);
            add(tar, "base/1/16384", data);
            add(tar, "empty", new byte[0]);
            // A name over 100 characters gets a PAX header that must stay with its entry.
            add(tar, "pg_tblspc/" + "x".repeat(120), Arrays.copyOf(data, 513));
            TarArchiveEntry link = new TarArchiveEntry("pg_wal", TarArchiveEntry.LF_SYMLINK);
            link.setLinkName("/elsewhere/pg_wal");
            tar.putArchiveEntry(link);
            tar.closeArchiveEntry();
        }
        return bytes.toByteArray();
    }

    private static void add(TarArchiveOutputStream tar, String name, byte[] data) throws IOException {
        TarArchiveEntry entry = new TarArchiveEntry(name);
        entry.setSize(data.length);
        tar.putArchiveEntry(entry);
        tar.write(data);
        tar.closeArchiveEntry();
    }

    private static List<String> names(byte[] tar) throws IOException {
        List<String> names = new ArrayList<>();
        try (TarArchiveInputStream in = new TarArchiveInputStream(new ByteArrayInputStream(tar))) {
            for (TarArchiveEntry e = in.getNextEntry(); e != null; e = in.getNextEntry()) {
                names.add(e.getName());
            }
        }
        return names;
    }

    @Test
    void cutsAtMemberEndsWhateverTheSlicesAndCopiesEveryByteUnchanged() throws IOException {
        byte[] tar = sampleTar();
        Random random = new Random(11);
        for (int maxSlice : new int[] {1, 7, 511, 512, 4096, 65_536}) {
            PiecePerMember entries = new PiecePerMember();
            TarStreamCutter cutter = new TarStreamCutter("base.tar", entries);
            for (int off = 0; off < tar.length; ) {
                int n = Math.min(tar.length - off, 1 + random.nextInt(maxSlice));
                cutter.write(tar, off, n);
                off += n;
            }
            cutter.close();

            assertThat(entries.members).as("slices up to %d", maxSlice).isEqualTo(5);
            List<String> all = new ArrayList<>();
            ByteArrayOutputStream joined = new ByteArrayOutputStream();
            for (ByteArrayOutputStream piece : entries.pieces) {
                byte[] standalone = Arrays.copyOf(piece.toByteArray(), piece.size() + 1024);
                List<String> inPiece = names(standalone);
                assertThat(inPiece).hasSize(1);
                all.addAll(inPiece);
                joined.writeBytes(piece.toByteArray());
            }
            assertThat(all).containsExactly("base/", "base/1/16384", "empty", "pg_tblspc/" + "x".repeat(120), "pg_wal");
            // Everything before the end-of-archive blocks, byte for byte.
            assertThat(Arrays.copyOf(tar, joined.size())).isEqualTo(joined.toByteArray());
            assertThat(Arrays.copyOfRange(tar, joined.size(), tar.length)).containsOnly(0);
        }
    }

    @Test
    void filesLargerThanAPartAreCutIntoRangesThatRebuildThem() throws IOException {
        Random random = new Random(17);
        byte[] big = new byte[5 * 1024 + 100];
        byte[] exact = new byte[2 * 1024];
        byte[] fits = new byte[1024];
        random.nextBytes(big);
        random.nextBytes(exact);
        random.nextBytes(fits);
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (TarArchiveOutputStream tar = new TarArchiveOutputStream(bytes)) {
            add(tar, "base/1/16390", big);
            add(tar, "base/1/16391", exact);
            add(tar, "base/1/16392", fits);
        }
        byte[] tar = bytes.toByteArray();
        for (int maxSlice : new int[] {1, 100, 512, 4096}) {
            PiecePerMember entries = new PiecePerMember();
            TarStreamCutter cutter = new TarStreamCutter("base.tar", entries, 1024 + 17);
            for (int off = 0; off < tar.length; ) {
                int n = Math.min(tar.length - off, 1 + random.nextInt(maxSlice));
                cutter.write(tar, off, n);
                off += n;
            }
            cutter.close();

            // 6 ranges of 1 KiB (the part size rounded down to the block), 2 of the exact one, the small file whole.
            assertThat(entries.members).as("slices up to %d", maxSlice).isEqualTo(6 + 2 + 1);
            java.util.Map<String, byte[]> rebuilt = new java.util.HashMap<>();
            for (ByteArrayOutputStream piece : entries.pieces) {
                try (TarArchiveInputStream in = new TarArchiveInputStream(new ByteArrayInputStream(Arrays.copyOf(piece.toByteArray(),
                        piece.size() + 1024)))) {
                    TarArchiveEntry e = in.getNextEntry();
                    byte[] data = in.readAllBytes();
                    assertThat(in.getNextEntry()).as("one member per piece").isNull();
                    java.util.Optional<FilePart> part = FilePart.of(e, "piece", Long.MAX_VALUE);
                    if (part.isEmpty()) {
                        rebuilt.put(e.getName(), data);
                        continue;
                    }
                    assertThat(data.length).isLessThanOrEqualTo(1024);
                    byte[] file = rebuilt.computeIfAbsent(e.getName(), k -> new byte[(int) part.get().fileSize()]);
                    System.arraycopy(data, 0, file, (int) part.get().offset(), data.length);
                }
            }
            assertThat(rebuilt.get("base/1/16390")).isEqualTo(big);
            assertThat(rebuilt.get("base/1/16391")).isEqualTo(exact);
            assertThat(rebuilt.get("base/1/16392")).isEqualTo(fits);
        }
    }

    @Test
    void aMemberAfterAnExtensionHeaderIsNeverSplit() throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (TarArchiveOutputStream tar = new TarArchiveOutputStream(bytes)) {
            tar.setLongFileMode(TarArchiveOutputStream.LONGFILE_POSIX);
            add(tar, "pg_tblspc/" + "y".repeat(120), new byte[4096]);
        }
        PiecePerMember entries = new PiecePerMember();
        TarStreamCutter cutter = new TarStreamCutter("base.tar", entries, 1024);
        cutter.write(bytes.toByteArray());
        cutter.close();
        assertThat(entries.members).isEqualTo(1);
        assertThat(names(Arrays.copyOf(entries.pieces.get(0).toByteArray(), entries.pieces.get(0).size() + 1024)))
                .containsExactly("pg_tblspc/" + "y".repeat(120));
    }

    @Test
    void aStreamThatStopsInsideAnEntryOrHeaderIsRefused() throws IOException {
        byte[] tar = sampleTar();
        TarStreamCutter insideData = new TarStreamCutter("base.tar", new PiecePerMember());
        insideData.write(tar, 0, 512 + 512 + 1000);
        assertThatThrownBy(insideData::close).isInstanceOf(IOException.class).hasMessageContaining("ended inside an entry");

        TarStreamCutter insideHeader = new TarStreamCutter("base.tar", new PiecePerMember());
        insideHeader.write(tar, 0, 700);
        assertThatThrownBy(insideHeader::close).isInstanceOf(IOException.class).hasMessageContaining("ended inside a header");
    }

    @Test
    void aDamagedHeaderIsRefused() throws IOException {
        byte[] tar = sampleTar();
        tar[512 + 3] ^= 0x20;
        TarStreamCutter cutter = new TarStreamCutter("base.tar", new PiecePerMember());
        assertThatThrownBy(() -> cutter.write(tar, 0, tar.length))
                .isInstanceOf(IOException.class).hasMessageContaining("base.tar").hasMessageContaining("checksum mismatch");
    }
}
