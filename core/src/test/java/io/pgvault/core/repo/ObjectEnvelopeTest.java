package io.pgvault.core.repo;

import io.pgvault.core.compress.Codec;
import io.pgvault.core.compress.Codecs;
import io.pgvault.core.storage.ObjectStore;
import io.pgvault.core.storage.local.LocalDirectoryStore;
import io.pgvault.testkit.FaultInjectingStore;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class ObjectEnvelopeTest {

    @TempDir
    Path temp;

    private ObjectStore store;
    private byte[] raw;

    @BeforeEach
    void setUp() throws IOException {
        store = new LocalDirectoryStore(temp.resolve("repo"));
        raw = new byte[200_000];
        new Random(3).nextBytes(raw);
        for (int i = 0; i < raw.length; i += 3) {
            raw[i] = 0;
        }
    }

    private ObjectHeader header(byte[] content, String codec) throws Exception {
        String sha = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(content));
        return new ObjectHeader("wal", "000000010000000000000001", content.length, sha, codec, null, "7440000000000000001", 1, 16 << 20,
                "test", "2026-11-25T00:00:00Z", 17);
    }

    private void storeWith(String key, ObjectHeader header, byte[] content) throws Exception {
        Codec codec = Codecs.parse(header.codec());
        Path payload = temp.resolve("payload-" + header.codec());
        try (OutputStream out = codec.compress(Files.newOutputStream(payload))) {
            out.write(content);
        }
        long stored = ObjectEnvelope.store(store, key, header, payload, true);
        assertThat(stored).isEqualTo(store.stat(key).orElseThrow().size());
    }

    private byte[] readContent(String key) throws IOException {
        try (ObjectEnvelope.Opened opened = ObjectEnvelope.open(key, store.get(key).orElseThrow());
             InputStream in = opened.content()) {
            return in.readAllBytes();
        }
    }

    @Test
    void roundTripsHeaderAndContentForEachCodec() throws Exception {
        for (String codec : new String[] {"zstd", "lz4", "none"}) {
            String key = "obj-" + codec;
            storeWith(key, header(raw, codec), raw);
            assertThat(readContent(key)).isEqualTo(raw);
            ObjectHeader back = ObjectEnvelope.readHeader(store, key).orElseThrow();
            assertThat(back.withPayloadSha256(null)).isEqualTo(header(raw, codec));
            assertThat(back.payloadSha256()).hasSize(64);
            assertThat(back.encryption()).isEqualTo("none");
        }
        assertThat(ObjectEnvelope.readHeader(store, "missing")).isEmpty();
    }

    /** Writes an object as pgvault did before payload checksums: only the raw bytes' SHA-256 in its header. */
    private void storeWithoutPayloadChecksum(String key, ObjectHeader header, byte[] content) throws Exception {
        java.io.ByteArrayOutputStream bytes = new java.io.ByteArrayOutputStream();
        bytes.write(ObjectEnvelope.prefix(header));
        try (OutputStream out = Codecs.parse(header.codec()).compress(bytes)) {
            out.write(content);
        }
        store.put(key, new ByteArrayInputStream(bytes.toByteArray()), bytes.size());
    }

    @Test
    void aChecksumMismatchIsRefusedAndNamed() throws Exception {
        byte[] other = raw.clone();
        other[100] ^= 1;
        // Objects from before payload checksums are checked on their raw bytes.
        storeWithoutPayloadChecksum("lying", header(other, "zstd"), raw);
        assertThatThrownBy(() -> readContent("lying"))
                .isInstanceOf(CorruptObjectException.class)
                .hasMessageContaining("lying")
                .hasMessageContaining("SHA-256 of its content");
        storeWithoutPayloadChecksum("honest", header(raw, "zstd"), raw);
        assertThat(readContent("honest")).isEqualTo(raw);
        // A payload checksum that does not match is refused too.
        storeWith("lying-payload", header(raw, "zstd").withPayloadSha256("0".repeat(64)), raw);
        assertThatThrownBy(() -> readContent("lying-payload"))
                .isInstanceOf(CorruptObjectException.class)
                .hasMessageContaining("lying-payload")
                .hasMessageContaining("SHA-256 of its stored payload");
    }

    @Test
    void aTruncatedObjectIsRefused() throws Exception {
        storeWith("cut", header(raw, "none"), raw);
        FaultInjectingStore cutReads = new FaultInjectingStore(store).truncateReadsAt(50_000);
        assertThatThrownBy(() -> {
            try (ObjectEnvelope.Opened opened = ObjectEnvelope.open("cut", cutReads.get("cut").orElseThrow())) {
                opened.content().readAllBytes();
            }
        }).isInstanceOf(CorruptObjectException.class).hasMessageContaining("truncated");
        FaultInjectingStore cutHeader = new FaultInjectingStore(store).truncateReadsAt(20);
        assertThatThrownBy(() -> ObjectEnvelope.open("cut", cutHeader.get("cut").orElseThrow()))
                .isInstanceOf(CorruptObjectException.class).hasMessageContaining("truncated");
    }

    @Test
    void aCorruptedCompressedPayloadIsRefused() throws Exception {
        storeWith("flip", header(raw, "zstd"), raw);
        Path file = temp.resolve("repo/flip");
        byte[] stored = Files.readAllBytes(file);
        stored[stored.length - 100] ^= 0x40;
        Files.write(file, stored);
        assertThatThrownBy(() -> readContent("flip")).isInstanceOf(CorruptObjectException.class).hasMessageContaining("flip");
    }

    @Test
    void foreignBytesAndNewerVersionsAreRefused() throws Exception {
        store.put("foreign", new ByteArrayInputStream("just some file".getBytes(StandardCharsets.UTF_8)), 14);
        assertThatThrownBy(() -> ObjectEnvelope.readHeader(store, "foreign"))
                .isInstanceOf(CorruptObjectException.class).hasMessageContaining("PGVOBJ");
        byte[] future = ObjectEnvelope.prefix(header(raw, "none"));
        future[6] = 9;
        store.put("future", new ByteArrayInputStream(future), future.length);
        assertThatThrownBy(() -> ObjectEnvelope.readHeader(store, "future"))
                .isInstanceOf(UnsupportedFormatException.class).hasMessageContaining("version 9").hasMessageContaining("upgrade");
    }

    @Test
    void unknownCodecOrEncryptionIsRefusedClearly() throws Exception {
        ObjectHeader base = header(raw, "none");
        ObjectHeader encrypted = new ObjectHeader(base.kind(), base.name(), base.rawSize(), base.sha256(), "none", "aes-256-gcm:key1",
                base.systemIdentifier(), base.timeline(), base.segmentSize(), base.writer(), base.createdAt(), base.pgMajor());
        storeWith("enc", encrypted, raw);
        assertThatThrownBy(() -> readContent("enc")).isInstanceOf(UnsupportedFormatException.class).hasMessageContaining("aes-256-gcm");
    }

    /** Stores {@code content} compressed, with only the SHA-256 of the compressed payload in its header (as backup pieces). */
    private ObjectHeader storeWithPayloadSha(String key, byte[] content, String codec) throws Exception {
        Path payload = temp.resolve("payload-sha-" + codec);
        try (OutputStream out = Codecs.parse(codec).compress(Files.newOutputStream(payload))) {
            out.write(content);
        }
        String sha = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(payload)));
        ObjectHeader header = new ObjectHeader("backup-piece", "base.tar.00000", content.length, null, codec, null, null, 1, 0, "test",
                "2026-11-25T00:00:00Z", null, sha);
        ObjectEnvelope.store(store, key, header, payload, false);
        return header;
    }

    @Test
    void anObjectWithOnlyAPayloadChecksumRoundTripsInEnvelopeVersion2() throws Exception {
        for (String codec : new String[] {"zstd", "lz4", "none"}) {
            ObjectHeader header = storeWithPayloadSha("piece-" + codec, raw, codec);
            assertThat(readContent("piece-" + codec)).isEqualTo(raw);
            assertThat(ObjectEnvelope.readHeader(store, "piece-" + codec).orElseThrow()).isEqualTo(header);
            assertThat(Files.readAllBytes(temp.resolve("repo/piece-" + codec))[6]).isEqualTo((byte) 2);
        }
        // Objects with the raw bytes' SHA-256 (WAL) stay in version 1, which older readers know.
        storeWith("wal", header(raw, "zstd"), raw);
        assertThat(Files.readAllBytes(temp.resolve("repo/wal"))[6]).isEqualTo((byte) 1);
    }

    @Test
    void aDamagedPayloadIsRefusedByItsChecksumEvenWhereTheCodecCannotTell() throws Exception {
        storeWithPayloadSha("plain", raw, "none");
        Path file = temp.resolve("repo/plain");
        byte[] stored = Files.readAllBytes(file);
        stored[stored.length - 100] ^= 0x40;
        Files.write(file, stored);
        assertThatThrownBy(() -> readContent("plain"))
                .isInstanceOf(CorruptObjectException.class)
                .hasMessageContaining("plain")
                .hasMessageContaining("SHA-256 of its stored payload");
        // WAL objects get the payload's SHA-256 beside the raw one, and readers check that one.
        storeWith("wal-flip", header(raw, "none"), raw);
        ObjectHeader walHeader = ObjectEnvelope.readHeader(store, "wal-flip").orElseThrow();
        assertThat(walHeader.sha256()).isEqualTo(header(raw, "none").sha256());
        assertThat(walHeader.payloadSha256()).isEqualTo(walHeader.sha256());
        Path wal = temp.resolve("repo/wal-flip");
        byte[] walBytes = Files.readAllBytes(wal);
        walBytes[walBytes.length - 7] ^= 0x01;
        Files.write(wal, walBytes);
        assertThatThrownBy(() -> readContent("wal-flip")).isInstanceOf(CorruptObjectException.class)
                .hasMessageContaining("SHA-256 of its stored payload");
        // Bytes appended after the compressed frame are covered too: the payload is read to its end.
        storeWithPayloadSha("tail", raw, "zstd");
        Path tail = temp.resolve("repo/tail");
        Files.write(tail, new byte[] {1, 2, 3}, java.nio.file.StandardOpenOption.APPEND);
        assertThatThrownBy(() -> readContent("tail")).isInstanceOf(CorruptObjectException.class).hasMessageContaining("tail");
    }
}
