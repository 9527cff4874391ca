package io.pgvault.core.pgproto;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class ConninfoTest {

    @Test
    void parsesLibpqSyntax() {
        Conninfo c = Conninfo.parse("host=db1  port = 5433 user=backup password='it\\'s x y' dbname=app");
        assertThat(c.host()).isEqualTo("db1");
        assertThat(c.port()).isEqualTo(5433);
        assertThat(c.user()).isEqualTo("backup");
        assertThat(c.password()).contains("it's x y");
        assertThat(c.dbname()).isEqualTo("app");
        assertThat(c.toString()).contains("password=***").doesNotContain("x y");
        assertThat(Conninfo.parse("").port()).isEqualTo(5432);
    }

    @Test
    void theClientKeysPassphraseIsASecretToo() {
        String text = "host=db1 user=backup sslkey=/k sslpassword='key pass' password=pw";
        assertThat(Conninfo.parse(text).toString()).contains("sslpassword=***").doesNotContain("key pass").doesNotContain("pw");
        // What the repository's cluster.json keeps of a connection string.
        assertThat(io.pgvault.core.repo.ClusterDescriptor.withoutPassword(text)).isEqualTo("host=db1 user=backup sslkey=/k");
    }

    @Test
    void refusesWhatLibpqWouldRefuse() {
        assertThatThrownBy(() -> Conninfo.parse("host")).hasMessageContaining("keyword=value");
        assertThatThrownBy(() -> Conninfo.parse("password='open")).hasMessageContaining("unterminated").hasMessageNotContaining("open");
        assertThatThrownBy(() -> Conninfo.parse("port=99999").port()).hasMessageContaining("1-65535");
    }
}
