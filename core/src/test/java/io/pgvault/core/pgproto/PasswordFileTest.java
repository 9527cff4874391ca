package io.pgvault.core.pgproto;

import io.pgvault.testkit.Fixtures;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** libpq's password-file rules: where the file is, how lines match, what makes it ignored. */
class PasswordFileTest {

    private Path home;
    private final List<String> warnings = new ArrayList<>();

    @BeforeEach
    void makeHome() throws IOException {
        home = Files.createTempDirectory("pgvault-home-");
    }

    @AfterEach
    void cleanUp() {
        Fixtures.deleteTree(home);
    }

    private Optional<String> lookup(String conninfo, String database, Map<String, String> env) {
        return PasswordFile.lookup(Conninfo.parse(conninfo), database, new ClientEnvironment(env, home), warnings::add);
    }

    private Path write(Path file, String... lines) throws IOException {
        Files.writeString(file, String.join("\n", lines) + "\n");
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-------"));
        return file;
    }

    @Test
    void theFirstMatchingLineWinsWithWildcardsAndEscapes() throws IOException {
        write(home.resolve(".pgpass"),
                "# a comment",
                "",
                "db1:5432:replication:backup:first",
                "db1:*:*:backup:second\\:with\\\\escapes:ignored-after-an-unescaped-colon",
                "db\\:odd:5432:*:*:odd-host",
                "*:*:*:*:fallback");
        assertThat(lookup("host=db1 user=backup", "replication", Map.of())).contains("first");
        assertThat(lookup("host=db1 port=6543 user=backup", "replication", Map.of())).contains("second:with\\escapes");
        assertThat(lookup("host=db:odd user=x", "postgres", Map.of())).contains("odd-host");
        assertThat(lookup("host=db2 user=someone", "app", Map.of())).contains("fallback");
        // No host: libpq's default, a local socket, matches as localhost.
        assertThat(lookup("user=backup", "replication", Map.of())).contains("fallback");
        assertThat(warnings).isEmpty();
    }

    @Test
    void passfileThenPgpassfileThenTheHomeDirectory() throws IOException {
        write(home.resolve(".pgpass"), "*:*:*:*:from-home");
        Path env = write(home.resolve("env-pgpass"), "*:*:*:*:from-env");
        Path named = write(home.resolve("named-pgpass"), "*:*:*:*:from-conninfo");
        assertThat(lookup("host=h user=u passfile=" + named, "d", Map.of("PGPASSFILE", env.toString()))).contains("from-conninfo");
        assertThat(lookup("host=h user=u", "d", Map.of("PGPASSFILE", env.toString()))).contains("from-env");
        assertThat(lookup("host=h user=u", "d", Map.of())).contains("from-home");
        assertThat(lookup("host=h user=u passfile=" + home.resolve("missing"), "d", Map.of())).isEmpty();
    }

    @Test
    void aFileOthersCanReadIsIgnoredWithAWarning() throws IOException {
        Path file = write(home.resolve(".pgpass"), "*:*:*:*:secret");
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-r-----"));
        assertThat(lookup("host=h user=u", "d", Map.of())).isEmpty();
        assertThat(warnings).singleElement().asString().contains("group or world access").contains("0600");
    }

    @Test
    void tlsSettingsFollowLibpqsDefaultsAndRefuseWhatItRefuses() {
        ClientEnvironment env = new ClientEnvironment(Map.of("PGSSLMODE", "verify-ca"), home);
        TlsSettings defaults = TlsSettings.of(Conninfo.parse("host=h"), new ClientEnvironment(Map.of(), home));
        assertThat(defaults.mode()).isEqualTo(SslMode.PREFER);
        assertThat(defaults.rootCert()).contains(home.resolve(".postgresql/root.crt"));
        assertThat(defaults.cert()).isEqualTo(home.resolve(".postgresql/postgresql.crt"));
        assertThat(defaults.channelBinding()).isEqualTo(ChannelBinding.PREFER);
        assertThat(TlsSettings.of(Conninfo.parse("host=h"), env).mode()).isEqualTo(SslMode.VERIFY_CA);
        assertThat(TlsSettings.of(Conninfo.parse("host=h sslmode=disable"), env).mode()).as("the conninfo wins").isEqualTo(SslMode.DISABLE);
        assertThat(TlsSettings.of(Conninfo.parse("host=h sslmode=verify-full sslrootcert=system"), env).rootCert()).isEmpty();
        assertThatThrownBy(() -> TlsSettings.of(Conninfo.parse("host=h sslrootcert=system"), env)).hasMessageContaining("needs sslmode=verify-full");
        assertThatThrownBy(() -> TlsSettings.of(Conninfo.parse("host=h sslmode=sometimes"), env)).hasMessageContaining("verify-full");
        assertThatThrownBy(() -> TlsSettings.of(Conninfo.parse("host=h sslmode=disable channel_binding=require"), env))
                .hasMessageContaining("needs TLS");
        assertThatThrownBy(() -> RequiredAuthentication.of(Conninfo.parse("require_auth=scram-sha-256,!md5"), env)).hasMessageContaining("mixes");
        assertThatThrownBy(() -> RequiredAuthentication.of(Conninfo.parse("require_auth=kerberos"), env)).hasMessageContaining("unknown method");
    }
}
