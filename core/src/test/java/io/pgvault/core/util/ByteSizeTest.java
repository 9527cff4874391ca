package io.pgvault.core.util;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class ByteSizeTest {

    @Test
    void bytesAndEveryUnitSpellingMeanTheSame() {
        assertThat(ByteSize.parse("x", "4194304")).isEqualTo(4L << 20);
        for (String s : new String[] {"4MB", "4mb", "4 MB", "4M", "4MiB", "4096kB", "4096K", "4096 KiB"}) {
            assertThat(ByteSize.parse("x", s)).as(s).isEqualTo(4L << 20);
        }
        assertThat(ByteSize.parse("x", "1GB")).isEqualTo(1L << 30);
        assertThat(ByteSize.parse("x", "2 TiB")).isEqualTo(2L << 40);
        assertThat(ByteSize.parse("x", "512B")).isEqualTo(512);
    }

    @Test
    void mistakesNameTheSettingAndTheForms() {
        assertThatThrownBy(() -> ByteSize.parse("pgvault.backup.piece-size", "64 megs")).hasMessageContaining("pgvault.backup.piece-size")
                .hasMessageContaining("unknown unit 'megs'").hasMessageContaining("64MB");
        assertThatThrownBy(() -> ByteSize.parse("s", "-1MB")).hasMessageContaining("is not a size");
        assertThatThrownBy(() -> ByteSize.parse("s", "1.5GB")).hasMessageContaining("is not a size");
        assertThatThrownBy(() -> ByteSize.parse("s", "99999999999TB")).hasMessageContaining("too large");
    }
}
