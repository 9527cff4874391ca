package io.pgvault.cli.push;

import io.pgvault.core.process.OwnedDirectory;
import io.pgvault.core.process.ProcessIdentity;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The push spool's rules as a state machine: who may state what, and when a statement counts. */
class PushSpoolTest {

    private static final String X = "000000010000000000000007";
    private static final String Y = "000000010000000000000008";
    private static final String STAMP = PushSpool.stamp(List.of("--server", "http://127.0.0.1:8432", "--cluster", "main"), Map.of());

    @TempDir
    Path dir;

    @Test
    void aNewOwnerClearsWhatADeadOneLeftAndPublishesItselfLast() throws Exception {
        Files.write(dir.resolve(X + PushSpool.PUSHED), new byte[0]);
        Files.writeString(dir.resolve(Y + PushSpool.REFUSED), "refused\n");
        Files.writeString(dir.resolve(OwnedDirectory.OWNER), "1 1 dead\n");
        Files.writeString(dir.resolve(PushSpool.TARGET), STAMP + "\n");
        Files.writeString(dir.resolve(PushSpool.LOG), "earlier runs\n");
        PushSpool spool = new PushSpool(dir);
        assertThat(spool.answer(X, STAMP)).as("a dead owner's statement").isEqualTo(PushSpool.Answer.UNKNOWN);
        try (PushSpool.Owner owner = spool.acquire(STAMP).orElseThrow()) {
            assertThat(dir.resolve(X + PushSpool.PUSHED)).doesNotExist();
            assertThat(dir.resolve(Y + PushSpool.REFUSED)).doesNotExist();
            assertThat(dir.resolve(PushSpool.LOG)).hasContent("earlier runs");
            assertThat(Files.readString(dir.resolve(OwnedDirectory.OWNER)).strip()).isEqualTo(ProcessIdentity.current().orElseThrow().line());
            assertThat(spool.answer(X, STAMP)).isEqualTo(PushSpool.Answer.UNKNOWN);
            owner.pushed(X);
            assertThat(spool.answer(X, STAMP)).isEqualTo(PushSpool.Answer.PUSHED);
        }
    }

    @Test
    void statementsCountOnlyForTheOwnersOwnDestination() throws Exception {
        PushSpool spool = new PushSpool(dir);
        try (PushSpool.Owner owner = spool.acquire(STAMP).orElseThrow()) {
            owner.pushed(X);
            String otherCluster = PushSpool.stamp(List.of("--server", "http://127.0.0.1:8432", "--cluster", "other"), Map.of());
            String otherServer = PushSpool.stamp(List.of("--server", "http://127.0.0.1:8432", "--cluster", "main"),
                    Map.of("PGVAULT_SERVER", "http://elsewhere:8432"));
            assertThat(spool.answer(X, STAMP)).isEqualTo(PushSpool.Answer.PUSHED);
            assertThat(spool.answer(X, otherCluster)).isEqualTo(PushSpool.Answer.UNKNOWN);
            assertThat(spool.answer(X, otherServer)).isEqualTo(PushSpool.Answer.UNKNOWN);
            assertThat(spool.answer(X, STAMP + " ")).as("the line compared whole").isEqualTo(PushSpool.Answer.UNKNOWN);
        }
    }

    @Test
    void aRefusalIsOneLineAndAPushWithdrawsIt() throws Exception {
        PushSpool spool = new PushSpool(dir);
        try (PushSpool.Owner owner = spool.acquire(STAMP).orElseThrow()) {
            owner.refused(Y, "the server answered 409:\nother content");
            assertThat(spool.answer(Y, STAMP)).isEqualTo(PushSpool.Answer.REFUSED);
            assertThat(Files.readString(dir.resolve(Y + PushSpool.REFUSED))).isEqualTo("the server answered 409: other content\n");
            owner.pushed(Y);
            assertThat(spool.answer(Y, STAMP)).isEqualTo(PushSpool.Answer.PUSHED);
            assertThat(dir.resolve(Y + PushSpool.REFUSED)).doesNotExist();
        }
    }

    @Test
    void statementsAboutFilesNoLongerReadyAreForgotten() throws Exception {
        PushSpool spool = new PushSpool(dir);
        try (PushSpool.Owner owner = spool.acquire(STAMP).orElseThrow()) {
            owner.pushed(X);
            owner.refused(Y, "refused");
            assertThat(owner.forgetAllBut(Set.of(Y))).containsExactly(X);
            assertThat(spool.answer(X, STAMP)).isEqualTo(PushSpool.Answer.UNKNOWN);
            assertThat(spool.answer(Y, STAMP)).isEqualTo(PushSpool.Answer.REFUSED);
        }
    }

    @Test
    void closingWithdrawsTheOwnerAndItsStatementsAndFreesTheSpool() throws Exception {
        PushSpool spool = new PushSpool(dir);
        PushSpool.Owner owner = spool.acquire(STAMP).orElseThrow();
        owner.pushed(X);
        assertThat(spool.acquire(STAMP)).as("one owner at a time").isEmpty();
        owner.close();
        assertThat(dir.resolve(OwnedDirectory.OWNER)).doesNotExist();
        assertThat(dir.resolve(X + PushSpool.PUSHED)).doesNotExist();
        assertThat(spool.answer(X, STAMP)).isEqualTo(PushSpool.Answer.UNKNOWN);
        try (PushSpool.Owner next = spool.acquire(STAMP).orElseThrow()) {
            assertThat(next.stillOwned()).isTrue();
        }
    }

    @Test
    void anOwnerWhoseSpoolWasReplacedLeavesTheNewOneAlone() throws Exception {
        PushSpool spool = new PushSpool(dir);
        PushSpool.Owner owner = spool.acquire(STAMP).orElseThrow();
        // Another process now names itself in .pid (this one's spool was removed and made again, as by a restore).
        ProcessIdentity self = ProcessIdentity.current().orElseThrow();
        Files.writeString(dir.resolve(OwnedDirectory.OWNER), new ProcessIdentity(self.pid() + 1, self.startTime(), self.bootId()).line() + "\n");
        Files.write(dir.resolve(X + PushSpool.PUSHED), new byte[0]);
        assertThat(owner.stillOwned()).isFalse();
        owner.close();
        assertThat(dir.resolve(OwnedDirectory.OWNER)).exists();
        assertThat(dir.resolve(X + PushSpool.PUSHED)).exists();
    }

    @Test
    void aLinkOrAnotherUsersDirectoryIsNotASpool() throws Exception {
        Path real = Files.createDirectory(dir.resolve("real"));
        Path link = Files.createSymbolicLink(dir.resolve("link"), real);
        assertThatThrownBy(() -> new PushSpool(link).acquire(STAMP)).hasMessageContaining("symbolic link");
        assertThat(PushSpool.fileOf("not-a-wal-file.ok")).isEmpty();
        assertThat(PushSpool.fileOf(X + PushSpool.PUSHED)).contains(X);
    }
    @Test
    void aClosedOwnerOrOneWhoseSpoolWasMadeAgainStatesNothing() throws Exception {
        PushSpool spool = new PushSpool(dir);
        PushSpool.Owner owner = spool.acquire(STAMP).orElseThrow();
        owner.close();
        owner.pushed(X);
        owner.refused(Y, "late");
        assertThat(dir.resolve(X + PushSpool.PUSHED)).as("a push that ended after its owner closed").doesNotExist();
        assertThat(dir.resolve(Y + PushSpool.REFUSED)).doesNotExist();

        Path spoolDir = Files.createDirectory(dir.resolve("pgvault-push"));
        PushSpool again = new PushSpool(spoolDir);
        PushSpool.Owner first = again.acquire(STAMP).orElseThrow();
        // The data directory is restored: the spool is removed and made again under its name, and this JVM owns it again.
        String pidLine = Files.readString(spoolDir.resolve(OwnedDirectory.OWNER));
        Files.move(spoolDir, dir.resolve("removed")); // kept meanwhile, so the new directory cannot reuse its inode
        Files.createDirectory(spoolDir);
        Files.writeString(spoolDir.resolve(OwnedDirectory.OWNER), pidLine);
        first.pushed(X);
        assertThat(spoolDir.resolve(X + PushSpool.PUSHED)).as("a statement in a spool that is not the one acquired").doesNotExist();
        first.close();
    }

    @Test
    void aRefusalWithdrawsAnEarlierStatementThatTheFileWasStored() throws Exception {
        PushSpool spool = new PushSpool(dir);
        try (PushSpool.Owner owner = spool.acquire(STAMP).orElseThrow()) {
            owner.pushed(X);
            owner.refused(X, "the server answered 409: other content");
            assertThat(spool.answer(X, STAMP)).isEqualTo(PushSpool.Answer.REFUSED);
        }
    }

    @Test
    void aPrefetchSpoolIsNotTakenAndNothingButWhatOwnersWriteIsCleared() throws Exception {
        Files.writeString(dir.resolve(".requested"), X + "\n");
        assertThatThrownBy(() -> new PushSpool(dir).acquire(STAMP)).hasMessageContaining("prefetch spool");
        assertThat(dir.resolve(".requested")).exists();
        Files.delete(dir.resolve(".requested"));
        Files.writeString(dir.resolve("notes.txt"), "someone's file");
        Files.write(dir.resolve(X), new byte[16]);
        try (PushSpool.Owner owner = new PushSpool(dir).acquire(STAMP).orElseThrow()) {
            assertThat(dir.resolve("notes.txt")).exists();
            assertThat(dir.resolve(X)).exists();
        }
    }
}
