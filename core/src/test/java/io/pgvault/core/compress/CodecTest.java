package io.pgvault.core.compress;

import org.junit.jupiter.api.Test;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class CodecTest {

    private static final List<Codec> ALL = List.of(new ZstdCodec(1), new ZstdCodec(3), new Lz4Codec(), new NoCodec());

    static byte[] walLike(int size) {
        // Mostly zeros with a little noise, as WAL after a segment switch looks.
        byte[] data = new byte[size];
        Random random = new Random(42);
        for (int i = 0; i < size / 10; i++) {
            data[random.nextInt(size)] = (byte) random.nextInt();
        }
        return data;
    }

    static byte[] compress(Codec codec, byte[] data) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (OutputStream out = codec.compress(bytes)) {
            out.write(data);
        }
        return bytes.toByteArray();
    }

    static byte[] decompress(Codec codec, byte[] data) throws IOException {
        try (InputStream in = codec.decompress(new ByteArrayInputStream(data))) {
            return in.readAllBytes();
        }
    }

    @Test
    void roundTripsEveryCodec() throws IOException {
        byte[] data = walLike(3 << 20);
        for (Codec codec : ALL) {
            byte[] compressed = compress(codec, data);
            assertThat(decompress(codec, compressed)).as(codec.toString()).isEqualTo(data);
            if (!(codec instanceof NoCodec)) {
                assertThat(compressed.length).as(codec.toString()).isLessThan(data.length / 2);
            }
        }
        assertThat(decompress(new ZstdCodec(1), compress(new ZstdCodec(1), new byte[0]))).isEmpty();
    }

    @Test
    void damagedOrTruncatedFramesFail() throws IOException {
        byte[] data = walLike(1 << 20);
        for (Codec codec : List.of(new ZstdCodec(1), new Lz4Codec())) {
            byte[] compressed = compress(codec, data);
            byte[] truncated = Arrays.copyOf(compressed, compressed.length / 2);
            assertThatThrownBy(() -> decompress(codec, truncated)).as(codec + " truncated").isInstanceOf(IOException.class);
            byte[] flipped = compressed.clone();
            flipped[flipped.length / 2] ^= 0x5A;
            flipped[flipped.length - 2] ^= 0x5A;
            assertThatThrownBy(() -> decompress(codec, flipped)).as(codec + " flipped").isInstanceOf(IOException.class);
        }
    }

    @Test
    void parsesSettings() {
        assertThat(Codecs.parse("zstd")).isInstanceOf(ZstdCodec.class);
        assertThat(((ZstdCodec) Codecs.parse("zstd:3")).level()).isEqualTo(3);
        assertThat(Codecs.parse("LZ4").id()).isEqualTo("lz4");
        assertThat(Codecs.parse("none").id()).isEqualTo("none");
        assertThatThrownBy(() -> Codecs.parse("gzip")).hasMessageContaining("'gzip'").hasMessageContaining("zstd");
        assertThatThrownBy(() -> Codecs.parse("zstd:x")).hasMessageContaining("'zstd:x'");
        assertThatThrownBy(() -> Codecs.parse("zstd:99")).hasMessageContaining("1 (fastest) to 19");
        assertThatThrownBy(() -> Codecs.parse(" ")).hasMessageContaining("not set");
    }
}
