package io.pgvault.core.security;

import org.junit.jupiter.api.Test;

import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class ApiTokenEntryTest {

    @Test
    void aLineReadsBackAsItWasWritten() {
        String token = TokenSecret.generate();
        ApiTokenEntry entry = new ApiTokenEntry("restores", ApiRole.READ, Set.of("main", "billing"), TokenSecret.digest(token));
        assertThat(entry.toLine()).startsWith("restores read billing,main sha256:").doesNotContain(token);
        assertThat(ApiTokenEntry.parse("  " + entry.toLine().replace(" ", "\t") + " ")).isEqualTo(entry);
        ApiTokenEntry all = ApiTokenEntry.parse("ops admin * " + TokenSecret.hashText(TokenSecret.digest(token)));
        assertThat(all.allClusters()).isTrue();
        assertThat(all.covers("anything")).isTrue();
        assertThat(entry.covers("other")).isFalse();
        assertThat(TokenSecret.matches(token, all.hash())).isTrue();
        assertThat(TokenSecret.matches(token + "x", all.hash())).isFalse();
    }

    @Test
    void tokensAreLongRandomAndDistinct() {
        String a = TokenSecret.generate();
        assertThat(a).startsWith("pgv_").hasSize(4 + 43);
        assertThat(TokenSecret.generate()).isNotEqualTo(a);
    }

    @Test
    void malformedLinesAreRefusedWithoutEchoingAToken() {
        String token = TokenSecret.generate();
        assertThatThrownBy(() -> ApiTokenEntry.parse("ops admin * " + token)).hasMessageContaining("is not a token hash")
                .hasMessageNotContaining(token);
        String hash = TokenSecret.hashText(TokenSecret.digest(token));
        assertThatThrownBy(() -> ApiTokenEntry.parse("ops owner * " + hash)).hasMessageContaining("expected archive, read or admin");
        assertThatThrownBy(() -> ApiTokenEntry.parse("ops read main,* " + hash)).hasMessageContaining("* alone");
        assertThatThrownBy(() -> ApiTokenEntry.parse("ops read Main " + hash)).hasMessageContaining("not a cluster name");
        assertThatThrownBy(() -> ApiTokenEntry.parse("ops read main")).hasMessageContaining("got 3 field(s)");
    }
}
