package io.pgvault.cli;

import io.pgvault.core.storage.server.BearerToken;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * What {@code recover} writes into restore_command: never a secret (any SQL role can
 * {@code SHOW restore_command}, any local user can read a process's arguments), but the
 * file it is kept in, outside the data directory; and {@code %} doubled, as PostgreSQL
 * replaces {@code %f}, {@code %p} and {@code %%} in it.
 */
class RecoverSecretsTest {

    @TempDir
    Path temp;

    private RecoverCommand parse(String... args) {
        RecoverCommand command = new RecoverCommand();
        new CommandLine(command).parseArgs(args);
        command.launcher = "/opt/pgvault/bin/pgvault";
        return command;
    }

    @Test
    void aTokenGoesToAFileBesideTheDataDirectoryNotIntoRestoreCommand() throws Exception {
        Path data = temp.resolve("data");
        RecoverCommand recover = parse("--server", "http://127.0.0.1:8432", "--token", "s3cr3t-token", "--cluster", "main",
                "--pgdata", data.toString());
        recover.secret = recover.secret(data);
        String command = recover.restoreCommand();
        assertThat(command).doesNotContain("s3cr3t-token").contains("--token-file " + temp.resolve("data.pgvault-token"));
        assertThat(recover.secret.content()).isEqualTo(BearerToken.fileContent("s3cr3t-token"));
    }

    @Test
    void aPrivateCaGivenToRecoverReachesWalFetchAsAnAbsolutePath() {
        Path data = temp.resolve("data");
        RecoverCommand recover = parse("--server", "https://pgvault.internal:8432", "--cacert", "ca.pem", "--cluster", "main",
                "--pgdata", data.toString());
        assertThat(recover.restoreCommand()).contains("--server https://pgvault.internal:8432")
                .contains("--cacert " + Path.of("ca.pem").toAbsolutePath());
    }

    @Test
    void s3KeysGoToAFileBesideTheDataDirectory() {
        Path data = temp.resolve("data");
        RecoverCommand recover = parse("--repo", "s3://bucket/p", "--s3-access-key", "AKIAEXAMPLE", "--s3-secret-key", "wJalrXUtnFEMI",
                "--cluster", "main", "--pgdata", data.toString());
        recover.secret = recover.secret(data);
        assertThat(recover.restoreCommand()).doesNotContain("AKIAEXAMPLE").doesNotContain("wJalrXUtnFEMI")
                .contains("--s3-credentials-file " + temp.resolve("data.pgvault-s3.credentials"));
    }

    @Test
    void aSecretFileInsideTheDataDirectoryOrReadableByOthersIsRefused() throws Exception {
        Path data = Files.createDirectories(temp.resolve("data"));
        Path inside = data.resolve("token");
        Files.writeString(inside, "t0ken\n");
        Files.setPosixFilePermissions(inside, PosixFilePermissions.fromString("rw-------"));
        RecoverCommand recover = parse("--server", "http://h:8432", "--token-file", inside.toString(), "--cluster", "main",
                "--pgdata", data.toString());
        assertThatThrownBy(() -> recover.secret(data)).hasMessageContaining("inside the data directory");

        Path shared = temp.resolve("token");
        Files.writeString(shared, "Authorization: Bearer t0ken\n");
        Files.setPosixFilePermissions(shared, PosixFilePermissions.fromString("rw-r--r--"));
        RecoverCommand readable = parse("--server", "http://h:8432", "--token-file", shared.toString(), "--cluster", "main",
                "--pgdata", data.toString());
        assertThatThrownBy(() -> readable.secret(data)).hasMessageContaining("other users may read it").hasMessageContaining("chmod 600");

        Files.setPosixFilePermissions(shared, PosixFilePermissions.fromString("rw-------"));
        assertThat(BearerToken.fromFile(shared)).isEqualTo("t0ken");
        readable.secret = readable.secret(data);
        assertThat(readable.restoreCommand()).contains("--token-file " + shared).doesNotContain("t0ken ");
    }

    @Test
    void percentSignsAndQuotesSurvivePostgresSubstitutionAndTheShell() {
        assertThat(RecoverCommand.shellWords(java.util.List.of("/opt/pg vault/bin/pgvault", "wal-fetch", "--repo", "file:///srv/100%/it's")))
                .isEqualTo("'/opt/pg vault/bin/pgvault' wal-fetch --repo 'file:///srv/100%%/it'\\''s' %f %p");
    }
}
