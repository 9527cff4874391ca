package io.pgvault.core.crypto;

import io.pgvault.core.repo.ClusterDescriptor;
import io.pgvault.core.repo.CorruptObjectException;
import io.pgvault.core.repo.ObjectEnvelope;
import io.pgvault.core.repo.RepositoryFormat;
import io.pgvault.core.storage.ObjectStore;
import io.pgvault.core.storage.StorageUnavailableException;
import io.pgvault.core.storage.local.LocalDirectoryStore;
import io.pgvault.testkit.FaultInjectingStore;
import io.pgvault.testkit.Fixtures;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Arrays;
import java.util.Optional;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Wrong, missing and superfluous keys, and every way to tamper with a stored object:
 * each is refused by name, none reads as another object or as "corrupt" when it is a key
 * problem. Rotation changes one object, and old data reads with the new key only.
 */
class RepositoryEncryptionTest {

    private Path dir;
    private Path key;
    private LocalDirectoryStore stored;
    private ObjectStore repo;
    private final byte[] big = new byte[(4 << 20) + 12345];

    @BeforeEach
    void createEncryptedRepository() throws IOException {
        dir = Files.createTempDirectory("pgvault-encryption-");
        key = dir.resolve("repo.key");
        KeyEncryptionKey.generate(key);
        stored = new LocalDirectoryStore(dir.resolve("repo"));
        repo = RepositoryEncryption.initialize(stored, key, "test");
        new Random(7).nextBytes(big);
        repo.put("clusters/main/big", new ByteArrayInputStream(big), big.length);
        repo.put("clusters/main/small", new ByteArrayInputStream(bytes("a row value")), 11);
    }

    @AfterEach
    void cleanUp() throws IOException {
        repo.close();
        Fixtures.deleteTree(dir);
    }

    private static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    private static byte[] read(ObjectStore store, String k) throws IOException {
        try (InputStream in = store.get(k).orElseThrow()) {
            return in.readAllBytes();
        }
    }

    private Path file(String k) {
        return dir.resolve("repo").resolve(k);
    }

    @Test
    void objectsRoundTripAndAreStoredEncryptedUnderAClearFormatObject() throws IOException {
        assertThat(read(repo, "clusters/main/big")).isEqualTo(big);
        assertThat(read(repo, "clusters/main/small")).isEqualTo(bytes("a row value"));
        assertThat(Files.readString(file("clusters/main/small"), StandardCharsets.ISO_8859_1)).startsWith("PGVENC").doesNotContain("row value");
        RepositoryFormat.Descriptor format = RepositoryFormat.require(stored);
        assertThat(format.formatVersion()).isEqualTo(RepositoryFormat.ENCRYPTED);
        assertThat(format.encryption().keyId()).hasSize(16);
        assertThat(Files.readString(file(RepositoryFormat.KEY))).doesNotContain(Files.readString(key).substring(26, 40));
        // The envelope's header (with its checksums) is inside the ciphertext too.
        new ClusterDescriptor("main", "host=db1", "7441234567890123456", 16L << 20, 17, "2026-12-04T00:00:00Z").write(repo);
        assertThat(Files.readString(file("clusters/main/cluster.json"), StandardCharsets.ISO_8859_1)).doesNotContain("7441234567890123456");
        assertThat(ClusterDescriptor.read(repo, "main")).get().extracting(ClusterDescriptor::systemIdentifier).isEqualTo("7441234567890123456");
    }

    @Test
    void aWrongMissingOrSuperfluousKeyIsNamedNeverCalledCorrupt() throws IOException {
        Path other = dir.resolve("other.key");
        KeyEncryptionKey.generate(other);
        String id = RepositoryFormat.require(stored).encryption().keyId();
        assertThatThrownBy(() -> RepositoryEncryption.open(stored, Optional.of(other))).isInstanceOf(RepositoryKeyException.class)
                .hasMessageContaining("encrypted with key id " + id).hasMessageContaining("the key given (" + other + ") is key id");
        assertThatThrownBy(() -> RepositoryEncryption.open(stored, Optional.empty())).isInstanceOf(RepositoryKeyException.class)
                .hasMessageContaining("is encrypted (key id " + id + ")").hasMessageContaining("--key-file");
        // What wal-fetch meets without a key (it does not read the format object first: it runs once per segment).
        new ClusterDescriptor("main", "host=db1", "7", 16L << 20, 17, "2026-12-04T00:00:00Z").write(repo);
        repo.put("clusters/main/wal/0000000100000000/000000010000000000000001", new ByteArrayInputStream(bytes("x")), 1);
        assertThatThrownBy(() -> new io.pgvault.core.archive.WalSource(stored, "main", true)
                .open(io.pgvault.core.wal.WalFileName.parse("000000010000000000000001"))).isInstanceOf(RepositoryKeyException.class)
                .hasMessageContaining("is encrypted").hasMessageContaining("--key-file");
        try (LocalDirectoryStore clear = new LocalDirectoryStore(dir.resolve("clear"))) {
            RepositoryFormat.initialize(clear, "test");
            assertThatThrownBy(() -> RepositoryEncryption.open(clear, Optional.of(key))).isInstanceOf(RepositoryKeyException.class)
                    .hasMessageContaining("is not encrypted, but a key was given");
            assertThatThrownBy(() -> RepositoryEncryption.initialize(clear, key, "test")).hasMessageContaining("does not encrypt a repository in place");
        }
        Files.setPosixFilePermissions(other, PosixFilePermissions.fromString("rw-r--r--"));
        assertThatThrownBy(() -> RepositoryEncryption.open(stored, Optional.of(other))).hasMessageContaining("chmod 600");
    }

    @Test
    void everyTamperingIsRefusedNamingTheObject() throws IOException {
        Path big = file("clusters/main/big");
        byte[] original = Files.readAllBytes(big);
        int prefix = EncryptingStore.MAGIC.length + 2 + 16;
        int segment = 64 << 10;

        byte[] flipped = original.clone();
        flipped[flipped.length / 2] ^= 1;
        Files.write(big, flipped);
        assertThatThrownBy(() -> read(repo, "clusters/main/big")).isInstanceOf(CorruptObjectException.class)
                .hasMessageContaining("clusters/main/big fails authentication");

        Files.write(big, Arrays.copyOf(original, prefix + 20 * segment));
        assertThatThrownBy(() -> read(repo, "clusters/main/big")).as("cut at a segment boundary").isInstanceOf(CorruptObjectException.class);

        byte[] swapped = original.clone();
        System.arraycopy(original, prefix + segment, swapped, prefix + 2 * segment, segment);
        System.arraycopy(original, prefix + 2 * segment, swapped, prefix + segment, segment);
        Files.write(big, swapped);
        assertThatThrownBy(() -> read(repo, "clusters/main/big")).as("two segments swapped").isInstanceOf(CorruptObjectException.class);

        // Another object's ciphertext under this name: its name is bound into the authentication.
        Files.copy(file("clusters/main/small"), big, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        assertThatThrownBy(() -> read(repo, "clusters/main/big")).isInstanceOf(CorruptObjectException.class)
                .hasMessageContaining("moved here from another name");

        // An object in clear text, as an older pgvault or someone around it would write it.
        Files.write(big, bytes("PGVOBJ\u0002\u0000 a clear envelope"));
        assertThatThrownBy(() -> read(repo, "clusters/main/big")).isInstanceOf(CorruptObjectException.class)
                .hasMessageContaining("is not encrypted, but this repository is");

        // The format object edited to say "not encrypted": the objects still cannot be read as clear ones.
        Files.writeString(file(RepositoryFormat.KEY), "{\"formatVersion\": 1, \"createdBy\": \"someone\"}");
        ObjectStore downgraded = RepositoryEncryption.open(stored, Optional.empty());
        assertThatThrownBy(() -> ObjectEnvelope.readHeader(downgraded, "clusters/main/small")).isInstanceOf(RepositoryKeyException.class)
                .hasMessageContaining("clusters/main/small is encrypted");
    }

    @Test
    void aStoreThatFailsMidObjectIsAnOutageNotAnAuthenticationFailure() throws IOException {
        // The bucket's connection breaks 100 kB into the object: the store's own error comes through.
        FaultInjectingStore breaking = new FaultInjectingStore(stored)
                .failReadsAt(100_000, (op, k) -> new StorageUnavailableException("connection reset by the bucket", null));
        ObjectStore through = RepositoryEncryption.open(breaking, Optional.of(key));
        assertThatThrownBy(() -> read(through, "clusters/main/big")).isInstanceOf(StorageUnavailableException.class)
                .hasMessageContaining("connection reset");
    }

    @Test
    void rotationRewrapsTheDataKeysOnlyAndACutRotationLeavesTheOldKeyWorking() throws IOException {
        byte[] before = Files.readAllBytes(file("clusters/main/big"));
        Path next = dir.resolve("next.key");
        KeyEncryptionKey.generate(next);

        FaultInjectingStore failing = new FaultInjectingStore(stored).failNth(FaultInjectingStore.Op.PUT, 1,
                (op, k) -> new StorageUnavailableException("the bucket went away", null));
        assertThatThrownBy(() -> RepositoryEncryption.rotate(failing, key, next)).isInstanceOf(StorageUnavailableException.class);
        assertThat(read(RepositoryEncryption.open(stored, Optional.of(key)), "clusters/main/big")).isEqualTo(big);

        String id = RepositoryEncryption.rotate(stored, key, next);
        assertThat(RepositoryFormat.require(stored).encryption().keyId()).isEqualTo(id);
        assertThat(Files.readAllBytes(file("clusters/main/big"))).as("no data object rewritten").isEqualTo(before);
        assertThat(read(RepositoryEncryption.open(stored, Optional.of(next)), "clusters/main/big")).isEqualTo(big);
        assertThatThrownBy(() -> RepositoryEncryption.open(stored, Optional.of(key))).hasMessageContaining("encrypted with key id " + id);
    }

    @Test
    void aPassphraseIsStretchedWithArgon2idAndItsParametersKeptInTheFormatObject() throws IOException {
        Path passphrase = dir.resolve("passphrase");
        Files.writeString(passphrase, "correct horse battery staple\n");
        Files.setPosixFilePermissions(passphrase, PosixFilePermissions.fromString("rw-------"));
        try (LocalDirectoryStore other = new LocalDirectoryStore(dir.resolve("by-passphrase"))) {
            ObjectStore encrypted = RepositoryEncryption.initialize(other, passphrase, "test");
            encrypted.put("clusters/x/o", new ByteArrayInputStream(bytes("hello")), 5);
            KeyEncryptionKey.Argon2id kdf = RepositoryFormat.require(other).encryption().kdf();
            assertThat(kdf.memoryKiB()).isEqualTo(64 * 1024);
            assertThat(read(RepositoryEncryption.open(other, Optional.of(passphrase)), "clusters/x/o")).isEqualTo(bytes("hello"));
            Files.writeString(passphrase, "a wrong passphrase");
            assertThatThrownBy(() -> RepositoryEncryption.open(other, Optional.of(passphrase))).isInstanceOf(RepositoryKeyException.class)
                    .hasMessageContaining("is key id");
        }
    }
}
